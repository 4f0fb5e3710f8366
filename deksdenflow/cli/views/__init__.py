"""The other ways to look: the console, the web and MCP servers, metrics and reports."""
