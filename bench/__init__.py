"""Benchmarks printed by `make bench` (figures and ratios, not pass/fail tests)."""
