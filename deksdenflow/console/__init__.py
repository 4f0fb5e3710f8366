"""The full-screen console (`dflow console`): Textual screens over the same library as the CLI."""
