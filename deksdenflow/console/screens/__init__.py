"""The console's screens: runs, one run, one step, projects, workers, metrics, settings, help."""
