"""Switch engine without starting over: `--engine/--model` on `plan|run` (the run's later
attempts) and on `step retry` (that attempt), recorded on the attempt and shown."""

from __future__ import annotations

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import StepStarted
from deksdenflow.errors import ConfigError
from deksdenflow.workflow.lifecycle import controls
from tests.workflow.conftest import configure, settle
from tests.workflow.test_failures import _demo_options


def _started(project: Project, step: int) -> list[tuple[str, str]]:
    uid = project.view().find_run("1").run.uid
    return [(e.data.engine or "", e.data.model or "") for e in project.view().run_events(uid)
            if isinstance(e.data, StepStarted) and e.step == step]


def test_step_retry_with_another_engine_and_model_records_them_on_that_attempt(
    project: Project, new_run
) -> None:
    _demo_options(project, {"bug": True})
    configure(project, {"engines.alt.kind": '"demo"'})
    new_run()
    assert settle(project).steps[0].status.value == "blocked"
    controls.retry_step(project, "1", 1, engine="alt", model="m2")
    done = settle(project)
    assert _started(project, 1) == [("demo", ""), ("alt", "m2")]
    assert done.steps[0].engine == "alt" and done.run.status.value == "completed"
    assert _started(project, 2) == [("demo", "")]  # only that attempt switched


def test_run_with_an_engine_switches_the_rest_of_the_run(project: Project, new_run) -> None:
    configure(project, {"engines.alt.kind": '"demo"'})
    new_run()
    settle(project, all_steps=False)  # plan, step 01 and its QA
    controls.set_engine(project, "1", "alt", "m3")
    done = settle(project)
    assert done.run.status.value == "completed" and done.run.engine == "alt"
    assert [_started(project, i) for i in (1, 2, 3)] == [
        [("demo", "")], [("alt", "m3")], [("alt", "m3")]]
    assert controls.show(project, "1").run.engine == "alt"


def test_an_engine_that_does_not_exist_is_refused_and_changes_nothing(
    project: Project, new_run
) -> None:
    new_run()
    tip = project.store.tip()
    with pytest.raises(ConfigError, match="no engine 'nope'"):
        controls.set_engine(project, "1", "nope", None)
    assert project.store.tip() == tip
