"""The command a waiting run's hint names: the cheapest one that moves it on.

`reconcile.py` (models) and `waits.py` (the fast path's JSON) word why a run waits; the commands
for a stuck step are decided here, once, on plain values (standard library only)
(docs/decisions/1571-the-cheapest-command-that-moves-a-run.md).
"""

from __future__ import annotations

# The reason a QA job's final failure records on its step: the engine did not answer (down,
# timed out, malformed output), so no verdict exists. Reviewing again costs a QA call;
# retrying the step would re-run the agent and spend its tokens again.
QA_COULD_NOT_RUN = "QA could not run: "


def step_command(run_id: str, index: int, reason: str, attempts: int) -> str:
    """What moves a blocked (or finally failed) step on."""
    if reason.startswith(QA_COULD_NOT_RUN):
        return f"dflow qa {run_id} {index} (or dflow step approve {run_id} {index})"
    if attempts == 0:  # never ran: there is nothing to approve
        return f"dflow step retry {run_id} {index}"
    return f"dflow step retry {run_id} {index} (or dflow step approve {run_id} {index})"


def land_command(run_id: str) -> str:
    return f"merge the base into the run branch, resolve, commit, then dflow land {run_id}"
