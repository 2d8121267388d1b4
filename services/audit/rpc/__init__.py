"""The audit service's gRPC servicers: requests to domain calls, rows to messages."""
