"""The agent phases of a run: plan, execute, QA and resolve, their prompts, contract and commits."""
