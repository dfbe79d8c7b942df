"""Synthetic counties and SSD extracts for the demo, tests and benchmarks."""
