"""The audit service's rules, free of gRPC and of storage."""
