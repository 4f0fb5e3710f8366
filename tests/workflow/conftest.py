"""Fixtures for the workflow: settings changes and runs taken through the demo engine."""

from __future__ import annotations

from typing import Any

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.runs.models import RunSnapshot
from deksdenflow.jobs.liveness import new_worker_id
from deksdenflow.workflow.lifecycle import controls, runs
from tests.sync.conftest import clone, remote  # noqa: F401  (shared fixtures: two clones)


def configure(project: Project, settings: dict[str, Any]) -> None:
    """Set project.toml keys on the state ref, as `dflow config set` does."""
    project.set_settings({key: str(value) for key, value in settings.items()})


def settle(project: Project, ref: str = "1", all_steps: bool | None = True) -> RunSnapshot:
    return controls.run_until_settled(project, ref, new_worker_id(project.store, "test"),
                                      all_steps)


@pytest.fixture
def new_run(project: Project):  # type: ignore[no-untyped-def]
    def make(name: str = "x", task: str = "add a greeting", **kw: Any) -> RunSnapshot:
        return runs.create_run(project, name, task, **kw)

    return make
