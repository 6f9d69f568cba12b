"""Benchmarks of queue_job (see bench/README.md); ``python3 bench/run.py``."""
