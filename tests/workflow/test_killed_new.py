"""A SIGKILLed `dflow new` is undone (or, once recorded, kept whole) by the next dflow command:
no branch or worktree without a run, no run without a job or a reason, the name and the
number free again (issue 11 item 8). Real `dflow new` processes, killed at a named point
(DFLOW_TEST_PAUSE_AT, test-only) or at a random moment."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deksdenflow import faults
from deksdenflow.context.project import Project
from deksdenflow.domain.decisions.reconcile import waiting
from tests.conftest import git
from tests.jobs.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
# Read at import: the isolated_env fixture removes DFLOW_* variables from each test's env.
KILLS = int(os.environ.get("DFLOW_NEW_KILLS", "6"))
SEED = int(os.environ.get("DFLOW_KILL_SEED", "7"))


def start_new(repo: Path, name: str, log: Path,
              pause: str | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if pause is not None:
        env["DFLOW_TEST_PAUSE_AT"] = pause
    with log.open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "deksdenflow.cli.main", "new", name, "--task", f"do {name}"],
            cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)


def kill(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def assert_nothing_half_made(repo: Path, project: Project) -> None:
    """Every dflow branch and worktree belongs to a recorded run; every run is live or says
    why it waits; no worktree is left locked."""
    runs = project.view().runs()
    branches = set(git("for-each-ref", "--format=%(refname:short)", "refs/heads",
                       cwd=repo).split()) - {"main"}
    assert branches == {s.run.branch for s in runs}
    listed = git("worktree", "list", "--porcelain", cwd=repo).splitlines()
    trees = {Path(line.split(" ", 1)[1]).resolve() for line in listed
             if line.startswith("worktree ")} - {repo.resolve()}
    assert trees == {Path(s.run.worktree).resolve() for s in runs}
    assert not any(line.startswith("locked") for line in listed)
    leftovers = set((repo.parent / f"{repo.name}.worktrees").glob("*")) if (
        repo.parent / f"{repo.name}.worktrees").exists() else set()
    assert {p.resolve() for p in leftovers} == trees
    for snap in runs:
        assert snap.open_jobs or waiting(snap, project.settings()) is not None, snap.run.id


@pytest.mark.parametrize("point", faults.POINTS)
def test_a_new_killed_at_any_point_is_undone_or_kept_by_the_next_command(
    project: Project, repo: Path, tmp_path: Path, cli, point: str  # type: ignore[no-untyped-def]
) -> None:
    log = tmp_path / "new.err"
    proc = start_new(repo, "x", log, pause=point)
    wait_for(lambda: f"paused at {point}" in log.read_text(errors="replace"),
             timeout=60, what=f"dflow new to reach {point}")
    kill(proc)

    again = cli("new", "x", "--task", "do x", cwd=repo)

    if point == "new.recorded":  # the run was recorded whole (its plan job with it): kept
        assert again.exit_code == 1 and "already uses the name 'x'" in again.output
    else:  # undone: the same name works, and gets the number the dead one never recorded
        assert again.exit_code == 0, again.output
        assert "created 0001-x" in again.output
    assert_nothing_half_made(repo, project)
    (snap,) = project.view().runs()
    assert snap.run.id == "0001-x" and [j.kind.value for j in snap.open_jobs] == ["plan"]


def test_a_worktree_left_by_a_killed_new_is_removed_by_a_worker_too(
    project: Project, repo: Path, tmp_path: Path, cli  # type: ignore[no-untyped-def]
) -> None:
    log = tmp_path / "new.err"
    proc = start_new(repo, "x", log, pause="new.worktree-made")
    wait_for(lambda: "paused at new.worktree-made" in log.read_text(errors="replace"),
             timeout=60, what="dflow new to make the worktree")
    kill(proc)
    assert git("branch", "--list", "0001-x", cwd=repo)  # the orphan is there

    assert cli("worker", "--burst", cwd=repo).exit_code == 0

    assert_nothing_half_made(repo, project)
    assert project.view().runs() == []


def test_doctor_lists_and_repair_removes_what_a_killed_new_left(
    project: Project, repo: Path, tmp_path: Path, cli  # type: ignore[no-untyped-def]
) -> None:
    log = tmp_path / "new.err"
    proc = start_new(repo, "x", log, pause="new.worktree-made")
    wait_for(lambda: "paused at new.worktree-made" in log.read_text(errors="replace"),
             timeout=60, what="dflow new to make the worktree")
    kill(proc)

    listed = cli("doctor", cwd=repo)
    assert "killed dflow new, never recorded as a run: 0001-x" in listed.output
    assert git("branch", "--list", "0001-x", cwd=repo)  # doctor alone changes nothing
    repaired = cli("doctor", "--repair", cwd=repo)
    assert "removed branch and worktree 0001-x" in repaired.output
    assert_nothing_half_made(repo, project)


@pytest.mark.slow
def test_random_sigkills_of_dflow_new_leave_nothing_half_made(
    project: Project, repo: Path, tmp_path: Path, cli, capsys  # type: ignore[no-untyped-def]
) -> None:
    # Enough files that checking out a worktree takes a moment worth hitting.
    for i in range(400):
        (repo / "src" / f"m{i // 40}").mkdir(parents=True, exist_ok=True)
        (repo / "src" / f"m{i // 40}" / f"f{i}.py").write_text(f"X = {i}\n" * 50)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "many files", cwd=repo)
    rng = random.Random(SEED)
    kills = KILLS
    seen: dict[str, int] = {}
    started = time.monotonic()
    whole = start_new(repo, "timed", tmp_path / "timed.err")
    assert whole.wait(120) == 0
    took = time.monotonic() - started  # how long one `dflow new` takes on this machine now
    for i in range(kills):
        log = tmp_path / f"new-{i}.err"
        proc = start_new(repo, f"k{i}", log)
        time.sleep(rng.uniform(0.6, 1.0) * took)
        kill(proc)
        branch = bool(git("branch", "--list", f"*-k{i}", cwd=repo))
        recorded = any(s.run.name == f"k{i}" for s in project.view().runs())
        phase = "recorded" if recorded else "half-made" if branch else "nothing made"
        seen[phase] = seen.get(phase, 0) + 1
    assert cli("new", "after", "--task", "t", cwd=repo).exit_code == 0
    assert_nothing_half_made(repo, project)
    assert subprocess.run(["git", "fsck", "--no-progress"], cwd=repo,
                          capture_output=True).returncode == 0
    with capsys.disabled():
        print(f"\nkilled dflow new {kills} times (one takes {took:.1f} s) in "
              f"{time.monotonic() - started:.1f} s: {seen}")
