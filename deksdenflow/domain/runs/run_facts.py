"""What a run's events say about it beside its snapshot — its notes, the failures that still
matter and the engine and model of each attempt — read once, for `dflow show` (the command's
`workflow/lifecycle/facts.py` and the read side's fast path alike) and the console. Pure and
standard library only: the events come as plain tuples, their payloads as JSON objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

# An event: its id, type, step (None: the run's), time and payload as JSON.
Fact = tuple[str, str, int | None, datetime, Mapping[str, object]]
Note = tuple[datetime, str, str]  # at, level, text
Failure = tuple[datetime, str, int | None, str]  # at, what failed (job kind), step, error
# step, kind (execute | qa), outcome, engine, model, sandboxed (None: the engine cannot say)
Attempt = tuple[int, str, str, str | None, str | None, bool | None]


def notes(events: Iterable[Fact]) -> list[Note]:
    """The run's notes that say something, in order."""
    return [(at, str(data.get("level", "info")), str(data["text"]))
            for _, kind, _, at, data in events if kind == "run.note" and data.get("text")]


def failures(events: Iterable[Fact]) -> list[Failure]:
    """What failed and has not succeeded since (`dflow events` keeps the history)."""
    events = list(events)
    kinds = {id_: (str(data["kind"]), step)
             for id_, kind, step, _, data in events if kind == "job.requested"}
    found: list[Failure] = []
    for _, kind, step, at, data in events:
        if kind == "job.failed":
            what, where = kinds.get(str(data["job"]), ("", step))
            found.append((at, what, where, str(data.get("error", ""))))
        elif kind == "step.failed" and data.get("reason"):
            found.append((at, "execute", step, str(data["reason"])))
        elif kind == "job.finished" and data.get("job") in kinds:
            done = kinds[str(data["job"])]  # that work succeeded since: history, not a problem
            found = [f for f in found if (f[1], f[2]) != done]
    return found


def attempts(events: Iterable[Fact]) -> list[Attempt]:
    """Each step attempt's outcome with the engine and model that made it."""
    found: list[Attempt] = []
    for _, kind, step, _, data in events:
        if step is None:
            continue
        if kind in ("step.finished", "step.qa_verdict"):
            outcome = str(data["verdict"]) if kind == "step.qa_verdict" else "finished"
            found.append((step, "qa" if kind == "step.qa_verdict" else "execute", outcome,
                          _text(data.get("engine")), _text(data.get("model")),
                          _flag(data.get("sandboxed"))))
        elif kind == "step.failed":
            found.append((step, "execute", "failed", None, None, None))
    return found



def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError("an event's engine or model that is not text")


def _flag(value: object) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ValueError("an event's sandboxed that is not true or false")
