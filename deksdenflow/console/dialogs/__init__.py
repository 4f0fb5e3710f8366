"""Modal dialogs of the console: confirm, new run."""
