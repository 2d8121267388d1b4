"""The deployer's gRPC servicers: requests to domain calls, rows to messages."""
