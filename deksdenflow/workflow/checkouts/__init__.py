"""Where a run's work lives on this clone: its branches, worktrees and their clean-up."""
