"""Benchmarks: each module starts its own platform on free ports and prints a table. Not tests:
timings vary with the machine, so they report numbers against the targets instead of asserting."""
