"""Analysts: scenario sweeps, the frontier, staffing what-ifs, comparing plans."""
