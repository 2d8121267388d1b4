"""The deployer's rules, free of gRPC and of storage."""
