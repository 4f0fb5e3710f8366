"""Runs travel between machines (issue 22 parts 1-3): the work is published with the state,
worktrees are each clone's own, any machine continues any run, and nothing lands without
the run's work. Machines are clones in separate folders with their own HOME and config dirs
on one bare remote, driven through the `dflow` CLI."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deksdenflow.domain.runs.models import JobKind, RunSnapshot, RunStatus, StepStatus
from deksdenflow.store import Tx
from deksdenflow.sync import service, work
from deksdenflow.wiring import open_project
from deksdenflow.workflow.lifecycle import scheduling
from deksdenflow.workflow.lifecycle.runs import record_run
from tests.conftest import git

from .machines import Machine, machine, remote_files, remote_ref

pytestmark = pytest.mark.slow  # whole machines through the CLI: 5-10 s each

TASK = "add a greeting"
LANDED = {"demo_x.py", "tests/test_demo_x.py", ".protocols/0001-x/plan.md",
          ".protocols/0001-x/03-document.md"}


def _can_hide() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    done = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs none /mnt"],
                          capture_output=True)
    return done.returncode == 0


def hiding(folder: Path) -> list[str]:
    """Run a command in a mount namespace where `folder` is an empty tmpfs: another
    machine's paths cannot be used by accident there."""
    return ["unshare", "-m", "sh", "-c", f'mount -t tmpfs none "{folder}" && exec "$@"', "sh"]


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return out


def state(m: Machine) -> str:
    return m.git("rev-parse", "refs/deksdenflow/state")


def test_a_run_worked_on_another_machine_lands_with_all_its_files(
        tmp_path: Path, remote: Path) -> None:
    """The reported bug: machine 2's remote worker does the run, machine 1's `dflow land`
    merged nothing. Here machine 2 never touches machine 1's repository or folders (where
    the platform allows, it runs in a mount namespace where they are an empty tmpfs), and
    machine 1 lands every file."""
    hidden = _can_hide()
    m1 = machine(tmp_path, "m1", remote)
    m1.dflow("new", "x", "--task", TASK)
    start = m1.git("rev-parse", "refs/heads/0001-x")
    m2 = machine(tmp_path, "m2", remote)
    finish(m2.popen("worker", "--remote", "origin", "--burst",
                    prefix=hiding(m1.folder) if hidden else None))
    assert m1.git("rev-parse", "refs/heads/0001-x") == start, \
        "machine 2 committed into machine 1's repository"
    assert (m2.folder / "repo.worktrees" / "0001-x" / "demo_x.py").is_file()

    m1.dflow("sync")
    assert "Goal: a `demo_x` module" in m1.dflow("show", "0001-x").stdout  # the plan, here
    assert "demo_x.py" in m1.dflow("diff", "0001-x", "--stat").stdout
    landed = m1.dflow("land", "0001-x").stdout
    assert "pushed to origin" in landed
    assert remote_files(remote) >= LANDED
    # Landed and recorded on the remote: the run's work refs are gone from it (on main now).
    snap = open_project(m1.root).view().find_run("1")
    assert snap.run.merged
    assert remote_ref(remote, work.work_ref(snap.run.uid, "0001-x")) is None


def _offline(m: Machine, tmp: Path) -> str:
    url = m.git("remote", "get-url", "origin")
    m.git("remote", "set-url", "origin", (tmp / "nowhere.git").as_uri())
    return url


def test_land_and_pr_refuse_a_run_whose_work_was_never_published(
        tmp_path: Path, remote: Path) -> None:
    """Machine 2 did the work offline and its state reached the remote without it (pushed by
    hand, as an older dflow did): machine 1 refuses to land or open a PR, naming who holds
    the work, and changes nothing."""
    m1 = machine(tmp_path, "m1", remote)
    m1.dflow("new", "x", "--task", TASK)
    m2 = machine(tmp_path, "m2", remote)
    url = _offline(m2, tmp_path)
    m2.dflow("worker", "--burst")
    m2.git("remote", "set-url", "origin", url)
    m2.git("push", "-q", "origin", "refs/deksdenflow/state")  # the state alone
    m1.dflow("sync")
    assert m1.dflow("status", "0001-x", "--json").stdout.count('"completed"') >= 1
    main_before, state_before = remote_ref(remote, "refs/heads/main"), state(m1)

    refused = m1.dflow("land", "0001-x", ok=False)
    assert refused.returncode == 1, refused.stdout
    assert "never published" in refused.stderr and "m2@m2-host" in refused.stderr
    assert "dflow sync" in refused.stderr and "Traceback" not in refused.stderr
    assert remote_ref(remote, "refs/heads/main") == main_before
    assert state(m1) == state_before
    pr = m1.dflow("pr", "0001-x", ok=False)
    assert pr.returncode == 1 and "never published" in pr.stderr
    assert remote_ref(remote, "refs/heads/0001-x") is None

    m2.dflow("sync")  # what the sentence says to do
    m1.dflow("land", "0001-x")
    assert remote_files(remote) >= LANDED


def test_a_teammates_recorded_worktree_is_never_used(tmp_path: Path, remote: Path) -> None:
    """A teammate pushes a run whose `worktree` is the victim's main checkout: the victim's
    worker plans and executes it in a worktree beside its own clone, and the main checkout
    (its branch, its files) is untouched."""
    victim = machine(tmp_path, "victim", remote)
    teammate = machine(tmp_path, "teammate", remote)
    before = victim.git("rev-parse", "HEAD")
    hostile = open_project(teammate.root)

    def body(tx: Tx) -> None:
        snap = record_run(tx, "evil", "plan and commit here", base="main",
                          worktree=str(victim.root))
        scheduling.set_intent(tx, snap.run.uid, "all", 0)

    hostile.store.transact(body)
    service.sync(hostile)
    victim.dflow("sync")
    victim.dflow("worker", "--burst")

    assert victim.git("rev-parse", "HEAD") == before
    assert victim.git("symbolic-ref", "HEAD") == "refs/heads/main"
    assert victim.git("status", "--porcelain", "--untracked-files=all") == ""
    assert not (victim.root / ".protocols").exists()
    own = victim.folder / "repo.worktrees" / "0001-evil"
    assert (own / ".protocols" / "0001-evil" / "plan.md").is_file()
    assert git("symbolic-ref", "HEAD", cwd=own) == "refs/heads/0001-evil"  # never detached
    status = json.loads(victim.dflow("status", "0001-evil", "--json").stdout)
    assert "completed" in json.dumps(status)


def test_offline_work_is_published_by_the_next_sync_before_its_state(
        tmp_path: Path, remote: Path) -> None:
    """Work done offline stays local; the next sync pushes it before the state, and a
    remote that will not take the work does not get the state that names it either. A
    remote that holds other commits at the run's work ref (a force push) gets ours beside
    them, never forced."""
    m1 = machine(tmp_path, "m1", remote)
    m1.dflow("new", "x", "--task", TASK)
    url = _offline(m1, tmp_path)
    worked = m1.dflow("worker", "--burst")
    assert "kept locally" in worked.stderr
    m1.git("remote", "set-url", "origin", url)
    project = open_project(m1.root)
    snap = project.view().find_run("1")
    tip = work.recorded_tip(snap)
    assert tip is not None and snap.run.status == RunStatus.COMPLETED
    ref = work.work_ref(snap.run.uid, snap.run.branch)
    published = remote_ref(remote, "refs/deksdenflow/state")
    # Someone force-pushed other commits to the run's work ref, and a ref in the way blocks
    # the place beside it: the work cannot be published...
    empty = git("--git-dir", str(remote), "hash-object", "-t", "tree", "-w", "/dev/null",
                cwd=tmp_path)
    other = git("--git-dir", str(remote), "commit-tree", empty, "-m", "other",
                cwd=tmp_path)
    git("--git-dir", str(remote), "update-ref", ref, other, cwd=tmp_path)
    aside = f"{ref}.aside-{tip[:12]}"
    git("--git-dir", str(remote), "update-ref", f"{aside}/blocker", other, cwd=tmp_path)
    refused = m1.dflow("sync", ok=False)
    assert refused.returncode == 1 and ref in refused.stderr, refused.stderr
    # ...so the state that names the work is not pushed either.
    assert remote_ref(remote, "refs/deksdenflow/state") == published

    git("--git-dir", str(remote), "update-ref", "-d", f"{aside}/blocker", cwd=tmp_path)
    m1.dflow("sync")
    assert remote_ref(remote, ref) == other, "a work ref is never forced"
    assert remote_ref(remote, aside) == tip
    assert remote_ref(remote, "refs/deksdenflow/state") == state(m1)
    for commit in [tip, *(s.commit for s in snap.steps if s.commit)]:
        git("--git-dir", str(remote), "cat-file", "-e", f"{commit}^{{commit}}", cwd=tmp_path)
    assert not remote_ref(remote, "refs/heads/0001-x"), "the work is kept off the branch list"


def _observe(observer: Path) -> RunSnapshot:
    project = open_project(observer)
    service.sync(project, push=False)
    return project.view().find_run("1")


def _wait_for(proc: subprocess.Popen[str], text: str, timeout: float = 90) -> str:
    """The process's output up to the line holding `text`."""
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            seen += line
            if text in line:
                return seen
            if not line and proc.poll() is not None:
                break
    pytest.fail(f"never saw {text!r}:\n{seen}")


def test_a_killed_remote_worker_is_replaced_by_another_machine_from_its_last_step(
        tmp_path: Path, remote: Path) -> None:
    """Machine 2's remote worker is SIGKILLed while it executes step 2 and machine 2 is gone;
    machine 3's `worker --burst` waits out the lease and finishes from step 1's published
    commit, without running step 1 again."""
    m1 = machine(tmp_path, "m1", remote)
    m1.dflow("new", "x", "--task", TASK)
    m2 = machine(tmp_path, "m2", remote)
    m2.env.update(DFLOW_WORKER_LEASE_S="3", DFLOW_TEST_PAUSE_AT="execute.step-02")
    observer = m1.root  # machine 1 watches the remote (fetch and merge, no push)
    worker = m2.popen("worker", "--remote", "origin", "--burst")
    _wait_for(worker, "paused at execute.step-02")  # step 2's agent is at work
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    shutil.rmtree(m2.folder)  # the machine is gone with whatever it did not publish
    snap = _observe(observer)
    one = snap.step(1)
    assert one is not None and one.status == StepStatus.COMPLETED and one.commit
    leased = [j for j in snap.jobs if j.kind == JobKind.EXECUTE and j.step == 2]
    assert leased and leased[0].lease_until is not None, "step 2's claim was not published"
    time.sleep(max(0.0, (leased[0].lease_until - datetime.now(UTC)).total_seconds()) + 0.1)

    m3 = machine(tmp_path, "m3", remote)
    m3.env["DFLOW_RETRY_BACKOFF_BASE_S"] = "0.5"  # the burst waits out the lost lease's backoff
    finish(m3.popen("worker", "--remote", "origin", "--burst"))
    done = _observe(observer)
    assert done.run.status == RunStatus.COMPLETED
    assert done.step(1) is not None and done.step(1).commit == one.commit  # type: ignore[union-attr]
    assert [s.attempts for s in done.steps][0] == 1
    events = open_project(observer).view().run_events(done.run.uid)
    started = Counter(e.step for e in events if e.type.value == "step.started")
    assert started[1] == 1, "step 1 was done again"
    tip = work.recorded_tip(done)
    assert tip is not None
    git("merge-base", "--is-ancestor", one.commit, tip, cwd=m3.root)
    m1.dflow("land", "0001-x")
    assert remote_files(remote) >= LANDED
