"""Engines turn a prompt into work: codex, claude, openai, command, demo, and plugins."""
