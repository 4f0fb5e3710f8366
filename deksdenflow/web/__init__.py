"""`dflow serve`: the HTTP API and the web console (FastAPI), over the CLI's services."""
