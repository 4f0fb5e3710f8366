"""The state's plain values, each with its one owner here: schema versions, job statuses,
where worker records live and how many events `show` lists.

The models (domain/runs/models.py, domain/eventlog/events.py), the store's codec and the read side's
fast paths (deksdenflow/reads/) all name these; they live in a module of the standard library
alone so that a read answered before pydantic is imported uses the very same values instead
of a copy held equal by a test.
"""

from __future__ import annotations

from enum import StrEnum

EVENT_SCHEMA_VERSION = 2
SNAPSHOT_SCHEMA_VERSION = 1  # a run's snapshot and an open job's document alike
WORKERS_DIR = "workers"  # the worker records, in <git dir>/deksdenflow/
RECENT_EVENTS = 20  # the events `dflow show` lists


class JobStatus(StrEnum):
    REQUESTED = "requested"
    CLAIMED = "claimed"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


OPEN_JOB_STATUSES = frozenset({JobStatus.REQUESTED, JobStatus.CLAIMED})
