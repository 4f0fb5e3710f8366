"""Observability services: figures from the state ref (metrics, report), logs, traces."""
