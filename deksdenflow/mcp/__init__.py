"""`dflow mcp`: dflow's tools over the Model Context Protocol (stdio), for agents and editors."""
