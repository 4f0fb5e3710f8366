"""The one door to the git CLI for work on code branches, worktrees and remotes."""

from .runner import SAFE_CONFIG, clean_env, command, run, run_bytes, spawn_detached, version

__all__ = ["SAFE_CONFIG", "clean_env", "command", "run", "run_bytes", "spawn_detached", "version"]
