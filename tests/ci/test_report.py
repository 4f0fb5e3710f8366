"""dflow ci report from CI-like checkouts against a real remote."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from deksdenflow.ci import report as ci
from deksdenflow.context.project import Project
from deksdenflow.domain.runs.models import JobKind, RunStatus
from deksdenflow.store import STATE_REF, Tx
from deksdenflow.sync import service
from deksdenflow.wiring import Wiring
from deksdenflow.workflow.lifecycle.runs import record_run
from tests.conftest import git
from tests.sync.conftest import Clone

GITHUB_ENV = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SERVER_URL": "https://github.example",
    "GITHUB_REPOSITORY": "team/app",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_REF_NAME": "0001-login",
}
SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def shared_run(clone: Clone, name: str = "login") -> tuple[Project, str]:
    a = clone("a")
    snap = a.store.transact(lambda tx: record_run(tx, name, "t", base="main"))
    service.sync(a)
    return a, snap.run.id


def ci_checkout(remote: Path, path: Path) -> Path:
    """What a CI runner has: a shallow clone, detached HEAD, no dflow state, no dflow init."""
    git("clone", "-q", "--depth", "1", remote.as_uri(), str(path), cwd=path.parent)
    git("checkout", "-q", "--detach", cwd=path)
    return path


def dflow(*args: str, cwd: Path,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deksdenflow.cli.main", *args], cwd=cwd,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True)


def test_a_github_failure_blocks_the_run_on_both_clones(
    clone: Clone, remote: Path, tmp_path: Path
) -> None:
    a, run_id = shared_run(clone)
    b = clone("b")
    runner = ci_checkout(remote, tmp_path / "runner")
    log = tmp_path / "checks.log"
    log.write_text("collected 3 items\nFAILED test_login.py::test_ok - assert 1 == 2\n")
    done = dflow("ci", "report", "--status", "failure", "--log", str(log), cwd=runner,
                 env=GITHUB_ENV)
    assert done.returncode == 0, done.stderr
    assert f"recorded CI failure for {run_id}" in done.stdout
    for project in (a, b):
        service.sync(project)
        snap = project.view().find_run(run_id)
        assert snap.run.status == RunStatus.BLOCKED
        assert snap.run.ci is not None and snap.run.ci.url.endswith("/team/app/actions/runs/4242")
        assert "assert 1 == 2" in snap.run.ci.excerpt
        assert snap.run.blocks["ci"].startswith("CI failed")


def test_success_after_failure_clears_the_block(
    clone: Clone, remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, run_id = shared_run(clone)
    runner = ci_checkout(remote, tmp_path / "runner")
    for key, value in GITHUB_ENV.items():
        monkeypatch.setenv(key, value)
    for status in ("failure", "success"):
        assert ci.report(Wiring(), runner, status=status).run == run_id
    service.sync(a)
    assert "ci" not in a.view().find_run(run_id).run.blocks


def test_a_branch_of_no_run_is_a_notice_and_exit_0(clone: Clone, remote: Path,
                                                   tmp_path: Path, cli: object) -> None:
    shared_run(clone)
    runner = ci_checkout(remote, tmp_path / "runner")
    before = git("ls-remote", remote.as_uri(), STATE_REF, cwd=tmp_path)
    done = cli("ci", "report", "--status", "failure", "--branch", "feature-x", cwd=runner)  # type: ignore[operator]
    assert done.exit_code == 0
    assert "branch 'feature-x' belongs to no protocol run" in done.output
    assert git("ls-remote", remote.as_uri(), STATE_REF, cwd=tmp_path) == before


def test_a_repository_without_dflow_is_a_notice(remote: Path, tmp_path: Path) -> None:
    runner = ci_checkout(remote, tmp_path / "runner")
    done = ci.report(Wiring(), runner, status="success", branch="main")
    assert done.run is None and "no dflow state" in done.message


def test_a_bad_status_is_a_usage_error(clone: Clone, cli: object) -> None:
    a = clone("a")
    done = cli("ci", "report", "--status", "green", "--branch", "x", cwd=a.root)  # type: ignore[operator]
    assert done.exit_code == 2 and "--status takes running, success, failure" in done.output


def test_gitlab_variables_name_the_branch_and_pipeline(
    clone: Clone, remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, run_id = shared_run(clone)
    runner = ci_checkout(remote, tmp_path / "runner")
    env = {"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "0001-login",
           "CI_PIPELINE_URL": "https://gitlab.example/team/app/-/pipelines/7"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert ci.report(Wiring(), runner, status="running").run == run_id
    service.sync(a)
    result = a.view().find_run(run_id).run.ci
    assert result is not None and result.status == "running"
    assert result.url.endswith("/pipelines/7")


@pytest.mark.slow
def test_four_concurrent_reports_are_all_recorded(clone: Clone, remote: Path,
                                                  tmp_path: Path) -> None:
    a = clone("a")
    ids = []
    for name in ("w", "x", "y", "z"):
        ids.append(a.store.transact(lambda tx, n=name: record_run(tx, n, "t", base="main")).run)
    service.sync(a)
    runners = [ci_checkout(remote, tmp_path / f"runner{i}") for i in range(4)]
    procs = [
        subprocess.Popen([sys.executable, "-m", "deksdenflow.cli.main", "ci", "report",
                          "--status", "failure", "--branch", run.id], cwd=r,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for r, run in zip(runners, ids, strict=True)
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    service.sync(a)
    for run in ids:
        snap = a.view().find_run(run.id)
        assert snap.run.ci is not None and snap.run.ci.status == "failure", run.id


def test_a_secret_in_the_ci_log_is_in_no_blob_of_the_state_history(
    clone: Clone, remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, run_id = shared_run(clone)
    runner = ci_checkout(remote, tmp_path / "runner")
    log = tmp_path / "checks.log"
    log.write_text(f"token={SECRET}\nmy-db-password-12345\nFAILED\n")
    env = {**GITHUB_ENV, "DB_PASSWORD": "my-db-password-12345"}
    a.store.transact(lambda tx: _secret_env(tx, "DB_PASSWORD"))
    service.sync(a)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert ci.report(Wiring(), runner, status="failure", log=log).pushed
    service.sync(a)
    assert "[REDACTED]" in (a.view().find_run(run_id).run.ci.excerpt or "")  # type: ignore[union-attr]
    blobs = all_blobs(a.root, STATE_REF)
    assert blobs and not any(SECRET.encode() in b or b"my-db-password-12345" in b for b in blobs)


def _secret_env(tx: Tx, name: str) -> None:
    tx.set_project_text(tx.view.project_text() + f'\n[secrets]\nenv = ["{name}"]\n')


def all_blobs(repo: Path, ref: str) -> list[bytes]:
    objects = git("rev-list", "--objects", ref, cwd=repo).splitlines()
    blobs = []
    for line in objects:
        oid = line.split()[0]
        if git("cat-file", "-t", oid, cwd=repo) == "blob":
            blobs.append(subprocess.run(["git", "cat-file", "blob", oid], cwd=repo,
                                        capture_output=True, check=True).stdout)
    return blobs


def test_fix_ci_jobs_are_requested_up_to_the_limit(clone: Clone, cli: object) -> None:
    a, run_id = shared_run(clone)
    cli("config", "set", "ci.fix", "auto", cwd=a.root)  # type: ignore[operator]
    cli("config", "set", "ci.max_fix_attempts", "1", cwd=a.root)  # type: ignore[operator]
    first = ci.report(Wiring(), a.root, status="failure", branch=run_id)
    assert first.fix_requested
    jobs = a.view().find_run(run_id).open_jobs
    assert [j.kind for j in jobs] == [JobKind.FIX_CI] and jobs[0].payload["attempt"] == 1
    second = ci.report(Wiring(), a.root, status="failure", branch=run_id)
    assert not second.fix_requested  # one is still open
