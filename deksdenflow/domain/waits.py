"""`reconcile.waiting` of a serial run, on the snapshot's JSON: for reads that load no models.

`dflow show`'s fast path (cli/show_fast.py) words why a run waits without importing pydantic
or the models. These are the same decisions as domain/reconcile.py, in the same order, for a
run that is not parallel (a parallel run's needs are `parallel.needs`: the caller leaves
those to the models). `tests/domain/test_waits.py` holds the two to the same answers.
"""

from __future__ import annotations

import re
from typing import Any

from .hints import land_command, step_command

INTENTS = ("all", "step", "manual")
TERMINAL = ("completed", "failed", "cancelled")
OPEN = ("requested", "claimed")
# reconcile.COMMANDS and its `_LIMIT_KEY` (a test holds them equal)
COMMANDS = {
    "ci": "push a fix, or `dflow config set ci.fix auto`",
}
_LIMIT_KEY = re.compile(r"\((budget\.[a-z_.]+)\)$")
BUG = "no job is open although the run could go on (a dflow bug)"

Doc = dict[str, Any]
Wait = tuple[str, str] | None  # (reason, command); None: it moves or it is done


class Parallel(ValueError):
    """A parallel run: its needs are not decided here."""


def waiting(doc: Doc, qa_policy: str) -> Wait:
    """What the run of snapshot `doc` waits for (`reconcile.waiting` with that QA policy)."""
    run, run_id = doc["run"], f"{doc['run']['number']:04d}-{doc['run']['name']}"
    if run.get("status", "pending") in TERMINAL:
        return None
    if run.get("paused"):
        return ("paused", f"dflow resume {run_id}")
    if run.get("planned") and run.get("parallel"):
        raise Parallel(run_id)
    if any(j.get("status", "requested") in OPEN for j in doc.get("jobs", [])):
        return None
    mode = intent(doc)
    blocks: dict[str, str] = run.get("blocks", {})
    if not run.get("planned"):
        if "plan" in blocks:
            return (f"planning failed: {blocks['plan']}",
                    f"fix the cause, then dflow plan {run_id}")
        if blocks:
            return _run_block(blocks, run_id)
        return ("not planned yet (hands-off)", f"dflow run {run_id}") if mode == "manual" \
            else _bug(run_id)
    blocked = _blocked(doc, blocks, run_id)
    return blocked if blocked is not None else _steps(doc, qa_policy, mode, run_id)


def intent(doc: Doc) -> str:
    run = doc["run"]
    if run.get("intent", "") in INTENTS:
        return str(run["intent"])
    for job in sorted(doc.get("jobs", []), key=lambda j: j["id"], reverse=True):
        payload = job.get("payload", {})
        if "chain" in payload:
            return "all" if payload["chain"] else "step"
        if "then" in payload:
            then = payload["then"]
            return then if then in ("all", "step") else "manual"
    return "manual"


def _bug(run_id: str) -> Wait:
    return (BUG, f"dflow doctor --repair (or dflow run {run_id})")


def _run_block(blocks: dict[str, str], run_id: str) -> Wait:
    key, why = next(iter(sorted(blocks.items())))
    command = COMMANDS.get(key, f"dflow show {run_id}")
    if key == "land":
        command = land_command(run_id)
    if key == "budget":
        found = _LIMIT_KEY.search(why)
        command = (f"dflow config set {found.group(1) if found else 'budget.tokens'} N "
                   "(or budget.mode warn)")
    return (f"blocked by {key}: {why}", command)


def _blocked(doc: Doc, blocks: dict[str, str], run_id: str) -> Wait:
    if blocks:
        return _run_block(blocks, run_id)
    for step in doc.get("steps", []):
        status = step.get("status", "pending")
        if status == "blocked" or (status == "failed" and step.get("final_failure")):
            i = step["index"]
            reason = step.get("reason") or ""
            return (f"step {i:02d} is {status}: {reason or 'no reason recorded'}",
                    step_command(run_id, i, reason, step.get("attempts", 0)))
    return None


def _steps(doc: Doc, policy: str, mode: str, run_id: str) -> Wait:
    for step in doc.get("steps", []):
        status, i = step.get("status", "pending"), step["index"]
        if status == "completed":
            continue
        if status == "needs_qa":
            if policy != "each_step":
                continue
            if mode == "manual":
                return (f"step {i:02d} awaits QA (hands-off)", f"dflow qa {run_id} {i}")
            return _bug(run_id)
        resumed = status in ("running", "failed")
        if mode == "all" or resumed or (mode == "step" and doc["run"].get("step_credit", 0) > 0):
            return _bug(run_id)
        if mode == "step":
            return (f"one step at a time (loop.mode step); step {i:02d} is next",
                    f"dflow run {run_id}")
        return (f"step {i:02d} is next (hands-off)", f"dflow run {run_id}")
    if not any(s.get("status", "pending") == "needs_qa" for s in doc.get("steps", [])):
        return None
    return ("steps await QA (hands-off)", f"dflow qa {run_id}") if mode == "manual" \
        else _bug(run_id)
