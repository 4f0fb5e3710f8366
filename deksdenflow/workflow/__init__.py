"""Protocol lifecycle services: projects, runs, plan, execute, QA and controls."""
