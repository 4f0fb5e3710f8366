"""The life of a protocol run: create it, list it, show it, control it, schedule its jobs."""
