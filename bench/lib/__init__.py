"""Helpers of bench/run.py: stacks, SQL, process accounting, measures, report."""
