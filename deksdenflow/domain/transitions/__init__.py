"""The state machines the fold enforces, one module per entity (domain/eventlog/fold.py wires
them)."""
