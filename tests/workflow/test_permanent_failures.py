"""Permanent engine failures block at once with the fix; `config set` and `dflow doctor` catch
a bad engine before a job does; `doctor --repair` heals a run with no job and no reason."""

from __future__ import annotations

from pathlib import Path

from deksdenflow.context.project import Project
from deksdenflow.domain.decisions.reconcile import waiting
from deksdenflow.domain.runs.models import JobKind
from deksdenflow.workflow.health import doctor_runs
from deksdenflow.workflow.lifecycle import runs, scheduling
from tests.conftest import git
from tests.workflow.conftest import configure, settle


def _execute_jobs(project: Project) -> list[tuple[int, str]]:
    snap = project.view().find_run("1")
    return [(j.failures, j.status.value) for j in snap.jobs if j.kind == JobKind.EXECUTE]


def test_a_missing_binary_blocks_the_step_once_with_the_fix(project: Project, new_run) -> None:
    configure(project, {"engines.gone.kind": '"codex"',
                        "engines.gone.options": '{binary = "/nowhere/codex-gone"}',
                        "phases.execute": "gone"})
    new_run()
    snap = settle(project)
    assert snap.run.status.value == "blocked"
    assert _execute_jobs(project) == [(1, "failed")]  # no retries, no backoff
    why = waiting(snap, project.settings())
    assert why is not None and "step 01" in why.reason and "dflow step retry" in why.command


def test_an_unknown_engine_kind_blocks_the_step_once(project: Project, new_run) -> None:
    configure(project, {"engines.mine.kind": '"nope"', "phases.execute": "mine"})
    new_run()
    snap = settle(project)
    assert snap.run.status.value == "blocked"
    assert _execute_jobs(project) == [(1, "failed")]
    assert "unknown engine kind 'nope'" in snap.steps[0].reason
    checks = {c.name: c for c in doctor_runs.engine_checks(project.settings(),
                                                        project.parts.engine_kinds())}
    assert checks["executor"].level == "fail" and checks["planner"].level == "ok"


def test_config_set_refuses_an_engine_that_does_not_exist(project: Project, repo: Path,
                                                          cli) -> None:
    before = git("rev-parse", "refs/deksdenflow/state", cwd=repo)
    result = cli("config", "set", "phases.default", "mine", cwd=repo)
    assert result.exit_code == 1
    assert "no engine 'mine'" in result.output and "Traceback" not in result.output
    assert git("rev-parse", "refs/deksdenflow/state", cwd=repo) == before
    assert cli("config", "set", "phases.qa", "claude", cwd=repo).exit_code == 0  # a kind


def test_doctor_lists_and_repair_heals_a_run_with_no_job_and_no_reason(project: Project,
                                                                       cli, repo: Path) -> None:
    project.store.after = None  # as an older dflow (or a crash between commits) left it

    def stuck(tx) -> str:  # type: ignore[no-untyped-def]
        snap = runs.record_run(tx, "lost", "a task", base="main")
        scheduling.set_intent(tx, snap.run.uid, "all")
        return snap.run.uid

    uid = project.store.transact(stuck)
    assert [s.run.uid for s in doctor_runs.stuck_runs(project)] == [uid]
    listed = cli("doctor", cwd=repo)
    assert "no job and no reason to wait: 0001-lost" in listed.output
    repaired = cli("doctor", "--repair", cwd=repo)
    assert "repaired 0001-lost" in repaired.output
    assert doctor_runs.stuck_runs(project) == []
    assert project.view().run(uid).open_jobs[0].kind == JobKind.PLAN  # type: ignore[union-attr]


def test_a_schema_the_engine_refuses_fails_planning_once_with_the_fix(
    project: Project, new_run, tmp_path: Path, monkeypatch
) -> None:
    from tests.engines.conftest import install_fake

    codex = install_fake("codex", tmp_path, monkeypatch)
    refusal = {"fail": "Invalid schema for response_format 'codex_output_schema': In "
                       "context=(), 'additionalProperties' is required to be supplied and "
                       "to be false."}
    codex.script(queue=[refusal] * 4)
    configure(project, {"phases.default": '"codex"', "retry.backoff_base_s": 0})
    new_run()
    snap = settle(project)
    plans = [(j.failures, j.status.value) for j in snap.jobs if j.kind == JobKind.PLAN]
    assert plans == [(1, "failed")]  # refused once; never asked again
    assert len(codex.calls()) == 1
    why = waiting(snap, project.settings())
    assert why is not None and "refused the output schema" in why.reason
    assert why.command.startswith("fix the cause, then dflow plan")
