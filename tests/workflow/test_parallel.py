"""Parallel steps: a dependency graph run in step worktrees and merged by one integrator."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import StepConflicted
from deksdenflow.domain.runs.models import JobKind, JobStatus, RunStatus, StepStatus
from deksdenflow.jobs import recovery, runner
from deksdenflow.workflow.lifecycle import controls
from tests.conftest import git
from tests.workflow.conftest import configure, settle
from tests.workflow.test_failures import _demo_options

DFLOW = Path(sys.executable).with_name("dflow")
PARALLEL = {"plan.parallel": "true", "retry.backoff_base_s": "0"}


def dflow(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(DFLOW), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"dflow {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


def merges(repo: Path, branch: str) -> list[str]:
    return git("log", "--merges", "--format=%s", branch, cwd=repo).splitlines()


def step_times(repo: Path, run: str) -> dict[int, tuple[datetime, datetime]]:
    events = json.loads(dflow("events", run, "--json", cwd=repo).stdout)
    started: dict[int, datetime] = {}
    spans: dict[int, tuple[datetime, datetime]] = {}
    for e in events:
        at = datetime.fromisoformat(e["at"])
        if e["type"] == "step.started":
            started[e["step"]] = at
        elif e["type"] == "step.finished":
            spans[e["step"]] = (started[e["step"]], at)
    return spans


@pytest.mark.slow
def test_the_diamond_runs_02_and_03_at_once_and_merges_each_step_once(repo: Path) -> None:
    dflow("init", "--engine", "demo", cwd=repo)
    dflow("config", "set", "plan.parallel", "true", cwd=repo)
    dflow("config", "set", "engines.demo.options", "{delay_s = 1.0}", cwd=repo)
    dflow("new", "d", "--task", "a greeting, tested and documented", "--engine", "demo",
          cwd=repo)
    dflow("worker", "-j", "2", "--burst", cwd=repo)

    shown = json.loads(dflow("show", "0001-d", "--json", cwd=repo).stdout)
    assert shown["run"]["status"] == "completed"
    spans = step_times(repo, "0001-d")
    (start2, end2), (start3, end3) = spans[2], spans[3]
    assert start2 < end3 and start3 < end2, f"02 and 03 did not overlap: {spans}"
    assert spans[1][1] < min(start2, start3) and max(end2, end3) < spans[4][0]
    assert sorted(m.split(":")[0] for m in merges(repo, "0001-d")) == [
        f"Merge step 0{i} of 0001-d" for i in (1, 2, 3, 4)]
    files = git("ls-tree", "-r", "--name-only", "0001-d", cwd=repo).splitlines()
    assert {"demo_d.py", "tests/test_demo_d.py", "README.md", "docs/demo_d.md"} <= set(files)
    assert "## demo_d" in git("show", "0001-d:README.md", cwd=repo)
    left = git("branch", "--list", "0001-d.step-*", cwd=repo)
    assert left == "", f"step branches left behind: {left}"
    assert not list(repo.parent.glob("repo.worktrees/0001-d.step-*"))


def _line_plan(*deps: list[int]) -> str:
    """Steps that each write `shared.txt` with their own line: independent ones conflict."""
    steps: list[dict[str, Any]] = []
    files = [{"path": n, "content": f"# {n}\n"} for n in ("plan.md", "context.md", "log.md")]
    for i, needs in enumerate(deps, start=1):
        name = f"0{i}-line.md"
        files.append({"path": name, "content": "<!-- dflow-demo: line shared.txt -->\n"})
        steps.append({"index": i, "type": "work", "title": f"line {i}", "file": name,
                      "depends_on": needs})
    return json.dumps({"summary": "s", "files": files, "steps": steps})


def test_a_conflict_becomes_a_resolve_step_whose_result_lands(project: Project, new_run,
                                                              repo: Path) -> None:
    configure(project, PARALLEL)
    _demo_options(project, {"plan_reply": _line_plan([], [])})
    new_run("c")
    snap = settle(project)
    assert snap.run.status == RunStatus.COMPLETED, snap.run.status
    events = project.view().run_events(snap.run.uid)
    conflicted = [e for e in events if e.type.value == "step.conflicted"]
    assert len(conflicted) == 1, "the second of the two steps to merge conflicts, once"
    loser = conflicted[0].step
    assert loser is not None
    assert conflicted[0].data == StepConflicted(files=["shared.txt"], against=[3 - loser])
    resolved = snap.step(loser)
    assert resolved is not None and resolved.integrated and resolved.attempts == 2
    assert sorted(git("show", "0001-c:shared.txt", cwd=repo).splitlines()) == [
        "written by 01-line.md", "written by 02-line.md"]
    assert len(merges(repo, "0001-c")) == 2 + 1  # one per step, plus the resolve's own merge
    transcript = project.view().artifact_names(snap.run.uid)
    assert len([n for n in transcript if n.startswith(f"transcripts/0{loser}-execute-")]) == 2


def test_steps_wait_for_their_dependencies_and_cut_from_their_merge(
        project: Project, new_run, repo: Path) -> None:
    configure(project, PARALLEL)
    _demo_options(project, {"plan_reply": _line_plan([], [1])})
    new_run("w")
    snap = settle(project)
    assert snap.run.status == RunStatus.COMPLETED
    assert [s.status for s in snap.steps] == [StepStatus.COMPLETED] * 2
    assert not [e for e in project.view().run_events(snap.run.uid)
                if e.type.value == "step.conflicted"]
    assert git("show", "0001-w:shared.txt", cwd=repo) == "written by 02-line.md"


def _integrate_in_child(repo: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(DFLOW), "worker", "-j", "1", "--queue", "integrate"],
                            cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _claimed_integration(project: Project) -> bool:
    return any(j.kind == JobKind.INTEGRATE and j.status == JobStatus.CLAIMED
               for j in project.view().open_jobs())


@pytest.mark.slow
def test_a_worker_killed_during_integration_leaves_no_half_merge(project: Project, new_run,
                                                                 repo: Path) -> None:
    configure(project, PARALLEL)
    new_run("k")
    controls.request_next(project, "1", True)
    rng = random.Random(int(os.environ.get("DFLOW_TEST_SEED", "17")))
    agent_kinds = {JobKind.PLAN, JobKind.EXECUTE, JobKind.QA}
    kills = 0
    for _ in range(8):
        runner.drain(project, "w-test", kinds=agent_kinds, max_wait_s=5)
        if not any(j.kind == JobKind.INTEGRATE for j in project.view().open_jobs()):
            break
        child = _integrate_in_child(repo)
        deadline = time.monotonic() + 60
        while not _claimed_integration(project) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.4))
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        kills += 1
        deadline = time.monotonic() + 30  # the worker process dies a moment after its pool
        while _claimed_integration(project) and time.monotonic() < deadline:
            recovery.recover_dead_claims(project)
            time.sleep(0.02)
        runner.drain(project, "w-next", kinds={JobKind.INTEGRATE}, max_wait_s=5)
        _assert_no_half_merge(project, repo)
    snap = project.view().find_run("1")
    assert kills >= 3 and snap.run.status == RunStatus.COMPLETED
    assert len(merges(repo, "0001-k")) == 4


def _assert_no_half_merge(project: Project, repo: Path) -> None:
    snap = project.view().find_run("1")
    worktree = Path(snap.run.worktree)
    assert git("status", "--porcelain", cwd=worktree) == ""
    assert subprocess.run(["git", "rev-parse", "-q", "--verify", "MERGE_HEAD"],
                          cwd=worktree, capture_output=True).returncode != 0
    integrated = sorted(s.index for s in snap.steps if s.integrated)
    names = sorted(int(m.split()[2]) for m in merges(repo, snap.run.branch))
    jobs = [(j.kind.value, j.step, j.status.value, j.attempts, j.lost, j.error[:80])
            for j in snap.jobs[-4:]]
    assert names == integrated, f"a merge the state does not know, or back: {jobs}"


def test_show_draws_the_graph_and_sees_the_conflict_coming(project: Project, new_run,
                                                           cli: Any, repo: Path) -> None:
    configure(project, PARALLEL)
    _demo_options(project, {"plan_reply": _line_plan([], [], [1, 2])})
    new_run("r")
    controls.request_next(project, "1", True)
    runner.drain(project, "w-test", kinds={JobKind.PLAN, JobKind.EXECUTE}, max_wait_s=5)
    found = controls.show(project, "1")
    assert [r.model_dump() for r in found.conflicts] == [
        {"steps": [1, 2], "files": ["shared.txt"], "conflict": True}]
    assert found.graph == ["01 needs_qa   line 1", "02 needs_qa   line 2",
                           "  03 pending    line 3  ← 01 02"]
    shown = cli("show", "0001-r", cwd=repo)
    assert "conflict ahead? steps 01 and 02 both change shared.txt (git merge-tree: they " \
           "conflict)" in shown.output
