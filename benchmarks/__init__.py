"""Benchmarks: network and order generators from real geography, benchmark scripts, the load test."""
