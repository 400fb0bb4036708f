"""Processes: serving, worker processes, the metrics endpoint."""
