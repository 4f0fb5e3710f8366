"""Bringing a run's work home: integration of parallel steps, diffs, PR push checks and landing."""
