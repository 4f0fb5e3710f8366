"""The commands between machines: sync, ci, pr, review, worker and workers."""
