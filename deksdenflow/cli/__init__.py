"""The `dflow` command line: parses, calls the library, renders."""
