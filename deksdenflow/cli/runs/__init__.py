"""The commands on protocol runs: new, status, events, show, plan, run, qa, the controls, diff
and land."""
