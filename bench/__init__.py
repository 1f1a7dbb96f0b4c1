"""Benchmarks: `make bench` (python -m bench) regenerates each section of docs/benchmarks.md in place."""
