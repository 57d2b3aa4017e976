"""Benchmarks: every hot path against a baseline measured in the same run.

`python -m bench` (or `./bench/run`) writes bench/results/latest.md and .png.
"""
