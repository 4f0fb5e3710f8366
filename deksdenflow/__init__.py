"""dflow: run AI coding agents through protocols, with all orchestration state in git."""

__version__ = "0.1.0"
