"""The deployer's SQL: deployments and their queue (deployments.py), log lines (logs.py), and the
read models of projects and identity it decides access from (read_model.py)."""
