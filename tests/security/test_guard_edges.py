"""The commit guard's edges: an agent that commits by itself, package-manager configs with
credentials, the allow-list for fixtures, and `dflow pr`, which never pushes what the guard
refuses (a person's own commits, and every commit of the branch, included)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.runs.models import JobKind, StepStatus
from deksdenflow.engines.demo_files import plan as demo_plan
from deksdenflow.jobs.runner import drain
from deksdenflow.workflow.lifecycle import runs
from tests.conftest import git
from tests.engines.conftest import install_fake
from tests.sync.conftest import make_remote
from tests.workflow.conftest import configure, settle

from .conftest import fsck, leaks, reachable_blobs
from .corpus import FORMATS

PASS = json.dumps({"verdict": "PASS", "summary": "ok", "findings": []})
TOKEN = FORMATS["github classic"]
COMMIT = "git -c user.name=a -c user.email=a@b commit -qm"


@pytest.fixture
def agent(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    codex = install_fake("codex", tmp_path, monkeypatch)
    configure(project, {"phases.default": '"codex"', "retry.max_attempts": 3})

    def script(*calls: dict[str, Any]) -> None:
        plan = demo_plan("0001-x")
        plan["steps"] = plan["steps"][:1]
        codex.script(queue=[{"message": json.dumps(plan)}, *calls])

    return script


def _branch_files(repo: Path) -> set[str]:
    """Every path in every commit of the run's branch, not only at its tip."""
    return set(git("log", "--format=", "--name-only", "0001-x", cwd=repo).split())


def test_a_secret_the_agent_commits_itself_is_taken_back(
        project: Project, repo: Path, agent: Any, cli: Any) -> None:
    agent({"shell": [f"printf 'k={TOKEN}\\n' > creds.txt && git add creds.txt && "
                     f"{COMMIT} sneak"], "message": "done"})
    runs.create_run(project, "x", "add a greeting")

    done = settle(project)

    assert done.steps[0].status in (StepStatus.BLOCKED, StepStatus.FAILED)
    assert "creds.txt" in done.steps[0].reason
    assert "creds.txt" not in _branch_files(repo)
    assert leaks(reachable_blobs(repo, "refs/heads/0001-x"), [TOKEN]) == []
    shown = cli("show", "1", cwd=repo).output
    assert "step 01" in shown and "creds.txt" in " ".join(shown.split())
    fsck(repo)


def test_a_package_manager_config_with_credentials_is_refused(
        project: Project, repo: Path, agent: Any) -> None:
    agent({"write": {".npmrc": "//registry.example.com/:_authToken=abc123def456\n"},
           "message": "done"})
    runs.create_run(project, "x", "add a greeting")

    done = settle(project)

    assert ".npmrc" in done.steps[0].reason and ".npmrc" not in _branch_files(repo)


def test_an_npmrc_without_credentials_and_an_allowed_fixture_are_committed(
        project: Project, repo: Path, agent: Any) -> None:
    configure(project, {"secrets.allow_files": '["tests/fixtures/*"]'})
    agent({"write": {".npmrc": "registry=https://registry.example.com/\n",
                     "tests/fixtures/server.key": "-----BEGIN PRIVATE KEY-----\nfake\n"},
           "message": "done"}, {"message": PASS})
    runs.create_run(project, "x", "add a greeting")

    done = settle(project)

    assert done.steps[0].status == StepStatus.COMPLETED, done.steps[0].reason
    assert {".npmrc", "tests/fixtures/server.key"} <= _branch_files(repo)


def test_pr_pushes_nothing_when_any_commit_of_the_branch_holds_a_secret_file(
        project: Project, repo: Path, agent: Any, cli: Any, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git("remote", "add", "origin", str(remote), cwd=repo)
    agent()
    snap = runs.create_run(project, "x", "add a greeting")
    drain(project, "w-test", kinds={JobKind.PLAN})  # planned: the branch has the plan commit
    worktree = Path(snap.run.worktree)
    (worktree / "id_rsa").write_text("a private key\n")
    git("add", "id_rsa", cwd=worktree)
    git("-c", "user.name=u", "-c", "user.email=u@e", "commit", "-qm", "mine", cwd=worktree)
    git("-c", "user.name=u", "-c", "user.email=u@e", "rm", "-q", "id_rsa", cwd=worktree)
    git("-c", "user.name=u", "-c", "user.email=u@e", "commit", "-qm", "oops", cwd=worktree)

    result = cli("pr", "1", cwd=repo)

    assert result.exit_code == 1
    assert "id_rsa" in result.output and "nothing was pushed" in result.output
    assert git("ls-remote", "--heads", str(remote), cwd=repo) == ""


def test_land_refuses_a_branch_that_a_person_put_a_key_on(repo: Path, cli: Any,
                                                          tmp_path: Path) -> None:
    remote = make_remote(tmp_path)
    work = tmp_path / "work"
    git("clone", "-q", remote.as_uri(), str(work), cwd=tmp_path)
    assert cli("init", "--engine", "demo", cwd=work).exit_code == 0
    assert cli("new", "hello", "--task", "say hello", "--engine", "demo", cwd=work).exit_code == 0
    assert cli("run", "hello", "--wait", cwd=work).exit_code == 0
    worktree = tmp_path / "work.worktrees" / "0001-hello"
    (worktree / "deploy.pem").write_text("a key\n")
    git("add", "deploy.pem", cwd=worktree)
    git("-c", "user.name=u", "-c", "user.email=u@e", "commit", "-qm", "mine", cwd=worktree)
    before = git("ls-remote", "--heads", str(remote), cwd=work)

    result = cli("land", "1", cwd=work)

    assert result.exit_code == 1 and "deploy.pem" in result.output
    assert git("ls-remote", "--heads", str(remote), cwd=work) == before
