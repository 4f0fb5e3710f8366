"""Correlation ids of the job in hand: for log lines and for the engine process's environment.

A context variable, not os.environ: the settings cache is keyed on the DFLOW_* environment
(context/project.py), and a per-job variable there would miss it on every job.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_IDS: ContextVar[dict[str, str]] = ContextVar("dflow_correlation", default={})  # noqa: B039

ENV_NAMES = {"job": "DFLOW_JOB_ID", "run": "DFLOW_RUN_ID", "step": "DFLOW_STEP",
             "attempt": "DFLOW_ATTEMPT", "worker": "DFLOW_WORKER_ID", "project": "DFLOW_PROJECT"}


@contextmanager
def bound(**ids: object) -> Iterator[None]:
    """While the block runs, these ids (None values left out) describe the work in hand."""
    token = _IDS.set({**_IDS.get(), **{k: str(v) for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _IDS.reset(token)


def ids() -> dict[str, str]:
    return dict(_IDS.get())


def env() -> dict[str, str]:
    """What an engine process gets so its own logs can be joined with dflow's."""
    return {ENV_NAMES[k]: v for k, v in _IDS.get().items() if k in ENV_NAMES}
