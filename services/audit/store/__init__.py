"""The audit service's SQL."""
