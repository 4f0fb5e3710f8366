"""The context every service receives: a `Project` (settings, store handle, paths, clock) and
the `Parts` the composition root wired into it (docs/architecture.md)."""
