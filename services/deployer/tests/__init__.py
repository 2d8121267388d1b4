"""Unit tests of the deployer's domain rules."""
