"""A commit dflow makes on a run branch holds exactly what that attempt's agent changed: never
the user's own files, a secret-looking file, an oversized file or a stray gitlink."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.runs.models import JobKind, RunStatus, StepStatus
from deksdenflow.engines.demo_files import plan as demo_plan
from deksdenflow.jobs.runner import drain
from deksdenflow.workflow.lifecycle import controls, runs
from tests.conftest import git
from tests.engines.conftest import FakeAgent, install_fake
from tests.workflow.conftest import configure, settle

from .conftest import fsck
from .corpus import FORMATS

PASS = json.dumps({"verdict": "PASS", "summary": "ok", "findings": []})
TOKEN = FORMATS["github classic"]


def _codex(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           calls: list[dict[str, Any]]) -> FakeAgent:
    codex = install_fake("codex", tmp_path, monkeypatch)
    plan = demo_plan("0001-x")
    plan["steps"] = plan["steps"][:1]
    plan["files"] = [f for f in plan["files"] if not f["path"][:2].isdigit()
                     or f["path"].startswith("01-")]
    codex.script(queue=[{"message": json.dumps(plan)}, *calls])
    configure(project, {"phases.default": '"codex"', "retry.max_attempts": 3})
    return codex


def _branch_files(repo: Path) -> set[str]:
    return set(git("ls-tree", "-r", "--name-only", "0001-x", cwd=repo).splitlines())


def test_the_users_untracked_file_is_never_swept_into_the_plan_commit(
    project: Project, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codex = _codex(project, tmp_path, monkeypatch, [])
    snap = runs.create_run(project, "x", "add a greeting", plan=False)
    worktree = Path(snap.run.worktree)
    (worktree / ".env.local").write_text(f"TOKEN={TOKEN}\n")
    (worktree / "notes.txt").write_text("my own notes\n")

    done = settle(project)

    assert done.run.status != RunStatus.COMPLETED
    assert codex.calls() == []  # refused before any agent ran: nothing retried either
    assert ".env.local" in json.dumps(done.model_dump(mode="json"))
    assert ".env.local" not in _branch_files(repo) and "notes.txt" not in _branch_files(repo)
    assert (worktree / ".env.local").exists() and (worktree / "notes.txt").exists()


@pytest.mark.parametrize(("attack", "named"), [
    ({"write": {".env": f"GITHUB_TOKEN={TOKEN}\n"}}, ".env"),
    ({"write": {"config.py": f"TOKEN = '{TOKEN}'\n"}}, "config.py"),
    ({"shell": ["head -c 6000000 /dev/zero > big.bin"]}, "big.bin"),
    ({"shell": ["git init -q nested && git -C nested -c user.name=a -c user.email=a@b "
                "commit -q --allow-empty -m x"]}, "nested"),
])
def test_a_file_that_must_not_be_committed_blocks_the_step_at_once(
    project: Project, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    attack: dict[str, Any], named: str
) -> None:
    codex = _codex(project, tmp_path, monkeypatch,
                   [{**attack, "message": "done"}, {"message": "again"}])
    runs.create_run(project, "x", "add a greeting")

    done = settle(project)

    step = done.steps[0]
    assert step.status in (StepStatus.FAILED, StepStatus.BLOCKED), step
    assert named in step.reason and "will not commit" in step.reason
    assert f"`dflow step retry {done.run.id} 1 --clean`" in step.reason  # what to type, exactly
    assert len(codex.calls()) == 2  # the planner and one execute attempt: no retry
    assert named not in _branch_files(repo)
    fsck(repo)


def test_a_failed_attempt_leaves_nothing_in_the_next_attempts_commit(
    project: Project, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _codex(project, tmp_path, monkeypatch, [
        {"write": {"junk.txt": "half done\n"}, "fail": "stream cut"},
        {"write": {"good.txt": "done\n"}, "message": "done"},
        {"message": PASS},
    ])
    monkeypatch.setenv("DFLOW_RETRY_BACKOFF_BASE_S", "0")
    configure(project, {"retry.backoff_base_s": 0})
    snap = runs.create_run(project, "x", "add a greeting")

    done = settle(project)

    assert done.steps[0].status == StepStatus.COMPLETED
    files = _branch_files(repo)
    assert "good.txt" in files and "junk.txt" not in files
    stashes = git("stash", "list", cwd=Path(snap.run.worktree))
    assert "failed attempt 1" in stashes  # set aside, not destroyed


def test_retry_clean_sets_the_users_files_aside_and_the_step_completes(
    project: Project, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _codex(project, tmp_path, monkeypatch, [
        {"write": {"good.txt": "done\n"}, "message": "done"}, {"message": PASS}])
    snap = runs.create_run(project, "x", "add a greeting")
    drain(project, "w-test", kinds={JobKind.PLAN})  # planned; the first step is requested
    worktree = Path(snap.run.worktree)
    (worktree / "scratch.txt").write_text("mine\n")
    blocked = settle(project)
    assert "scratch.txt" in blocked.steps[0].reason

    controls.retry_step(project, "1", 1, clean=True)
    done = settle(project)

    assert done.steps[0].status == StepStatus.COMPLETED
    assert "scratch.txt" not in _branch_files(repo) and "good.txt" in _branch_files(repo)
    assert "mine" in git("stash", "show", "-p", "--include-untracked", cwd=worktree)
