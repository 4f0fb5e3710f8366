"""Pure domain: models, events and the fold. No I/O, no git, no printing."""
