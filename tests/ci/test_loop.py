"""Closing the loop on a real run (demo engine): fix-CI, draft PR with a fake gh, merge."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from deksdenflow.ci import pr
from deksdenflow.ci import report as ci
from deksdenflow.context.project import Project
from deksdenflow.domain.runs.models import JobKind, RunStatus
from deksdenflow.jobs import runner
from deksdenflow.sync import service
from deksdenflow.wiring import Wiring
from deksdenflow.workflow.lifecycle import controls, runs
from tests.conftest import git
from tests.sync.conftest import Clone
from tests.workflow.conftest import configure

# A stand-in agent for the fix: writes a file and says what it did.
FIXER = """
[engines.fixer]
kind = "command"
options = { command = "sh -c 'echo fixed > fix.txt; echo fixed the build'" }
"""
FAKE_GH = """#!/bin/sh
printf '%s\\n' "$@" > "{log}"
echo "https://github.example/team/app/pull/17"
"""


@pytest.fixture
def done_run(clone: Clone) -> tuple[Project, str]:
    a = clone("a")
    snap = runs.create_run(a, "login", "add a login page")
    controls.run_until_settled(a, snap.run.id, "w-test", True)
    service.sync(a)
    return a, snap.run.id


def fake_tool(bin_dir: Path, name: str, log: Path) -> None:
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / name
    tool.write_text(FAKE_GH.format(log=log))
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)


def test_a_ci_failure_with_fix_auto_runs_a_fix_job_that_pushes_the_branch(
    done_run: tuple[Project, str], remote: Path
) -> None:
    a, run_id = done_run
    a.store.transact(lambda tx: tx.set_project_text(tx.view.project_text() + FIXER))
    configure(a, {"ci.fix": "auto", "ci.max_fix_attempts": 1, "phases.execute": "fixer"})
    result = ci.report(Wiring(), a.root, status="failure", branch=run_id)
    assert result.fix_requested
    outcomes = []
    runner.drain(a, "w-fix", kinds={JobKind.FIX_CI}, on_outcome=outcomes.append)
    assert all(o.ok for o in outcomes), outcomes
    snap = a.view().find_run(run_id)
    assert not snap.open_jobs
    log = git("log", "--format=%s", "-1", f"refs/heads/{run_id}", cwd=remote)
    assert "[dflow fix-ci]" in log  # committed and pushed to the remote
    again = ci.report(Wiring(), a.root, status="failure", branch=run_id)
    assert not again.fix_requested  # max_fix_attempts = 1


def test_pr_pushes_the_branch_and_opens_a_draft_with_gh(
    done_run: tuple[Project, str], remote: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, run_id = done_run
    configure(a, {"ci.provider": "github"})  # the bare remote stands for GitHub
    args = tmp_path / "gh-args.txt"
    fake_tool(tmp_path / "bin", "gh", args)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    url = pr.open_pr(a, run_id)
    assert url == "https://github.example/team/app/pull/17"
    argv = args.read_text().splitlines()
    assert argv[:3] == ["pr", "create", "--draft"]
    assert argv[argv.index("--head") + 1] == run_id and argv[argv.index("--base") + 1] == "main"
    assert argv[argv.index("--title") + 1].startswith(f"{run_id}: ")
    assert git("ls-remote", "--heads", str(remote), run_id, cwd=tmp_path)
    assert a.view().find_run(run_id).run.pr_url == url


def test_pr_without_gh_says_the_command_to_run(
    done_run: tuple[Project, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, run_id = done_run
    configure(a, {"ci.provider": "github"})  # the bare remote stands for GitHub
    (tmp_path / "empty").mkdir()
    git_dir = Path(os.popen("command -v git").read().strip()).parent
    monkeypatch.setenv("PATH", f"{tmp_path / 'empty'}{os.pathsep}{git_dir}")
    with pytest.raises(pr.PrToolMissing, match="gh pr create --draft --title"):
        pr.open_pr(a, run_id)
    assert a.view().find_run(run_id).run.pr_url is None


def test_a_run_whose_branch_is_merged_becomes_completed_on_every_clone(
    done_run: tuple[Project, str], clone: Clone
) -> None:
    a, run_id = done_run
    b = clone("b")
    configure(a, {"ci.fix": "off"})
    ci.report(Wiring(), a.root, status="failure", branch=run_id)  # blocked until merged
    assert a.view().find_run(run_id).run.status == RunStatus.BLOCKED
    git("merge", "-q", "--no-ff", "-m", "merge", run_id, cwd=a.root)
    git("push", "-q", "origin", "main", cwd=a.root)
    report = service.sync(b)  # b sees the merge in git after fetch
    assert report.completed == [run_id]
    service.sync(a)
    for project in (a, b):
        snap = project.view().find_run(run_id)
        assert snap.run.status == RunStatus.COMPLETED and snap.run.merged


def test_the_tokens_of_a_fix_count_against_the_run_budget() -> None:
    from datetime import UTC, datetime

    from deksdenflow.domain.eventlog.events import Event, EventType
    from deksdenflow.domain.eventlog.fold import fold

    def event(n: int, type_: EventType, data: dict[str, object]) -> Event:
        return Event(id=f"01M8900000000000000000000{n}", lamport=n, actor="t",
                     at=datetime.now(UTC), run="01M89000000000000000000001", type=type_,
                     data=data)

    snap = fold([event(1, EventType.RUN_CREATED, {"number": 1, "name": "x"}),
                 event(2, EventType.RUN_NOTE, {"text": "fix-CI attempt 1",
                                               "usage": {"input_tokens": 70, "output_tokens": 5}}),
                 event(3, EventType.RUN_NOTE, {"text": "plain note"})])
    assert snap is not None and snap.run.usage.total == 75 and not snap.rejected


@pytest.mark.parametrize(("mode", "fix_requested"), [("strict", False), ("warn", True),
                                                     ("off", True)])
def test_a_ci_report_follows_the_budget_mode(done_run: tuple[Project, str], mode: str,
                                             fix_requested: bool) -> None:
    a, run_id = done_run
    configure(a, {"ci.fix": "auto", "budget.tokens": 1, "budget.mode": mode})
    result = ci.report(Wiring(), a.root, status="failure", branch=run_id)
    assert result.fix_requested is fix_requested


def test_a_fix_never_pushes_a_branch_that_holds_a_secret(
    done_run: tuple[Project, str], remote: Path
) -> None:
    """The fix job pushes the run's branch: what is on it passes the push check of `pr` and
    `land` first, even what the agent did not write (a token committed on the branch by hand)."""
    a, run_id = done_run
    a.store.transact(lambda tx: tx.set_project_text(tx.view.project_text() + FIXER))
    configure(a, {"ci.fix": "auto", "ci.max_fix_attempts": 1, "phases.execute": "fixer"})
    token = "ghp_" + "A1b2C3d4E5f6" * 3
    worktree = Path(git("worktree", "list", "--porcelain", cwd=a.root).split(
        "worktree ")[2].splitlines()[0])
    (worktree / "deploy.txt").write_text(f"token = {token}\n")
    git("add", "deploy.txt", cwd=worktree)
    git("-c", "user.name=me", "-c", "user.email=me@x", "commit", "-qm", "by hand",
        cwd=worktree)
    ci.report(Wiring(), a.root, status="failure", branch=run_id)
    outcomes = []
    runner.drain(a, "w-fix", kinds={JobKind.FIX_CI}, on_outcome=outcomes.append)
    assert outcomes and not any(o.ok for o in outcomes), outcomes
    pushed = git("log", "-p", f"refs/heads/{run_id}", cwd=remote) \
        if run_id in git("branch", "--list", run_id, cwd=remote) else ""
    assert token not in pushed
