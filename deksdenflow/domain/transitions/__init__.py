"""The state machines the fold enforces, one module per entity (domain/fold.py wires them)."""
