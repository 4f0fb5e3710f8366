"""The one door to the git CLI for work on code branches, worktrees and remotes."""

from .runner import SAFE_CONFIG, run

__all__ = ["SAFE_CONFIG", "run"]
