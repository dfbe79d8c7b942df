"""Benchmarks, run on demand (see README): python -m bench.run, python -m bench.gap."""
