"""What the read commands print over a real state ref, and the errors for a broken one."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from deksdenflow.context import config
from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import StepFinished, StepQaVerdict, StepStarted
from deksdenflow.domain.runs.models import JobKind, Usage
from deksdenflow.jobs import queue
from deksdenflow.store import Tx
from deksdenflow.store.encoding.layout import META_FILE, run_snapshot_path
from tests.conftest import git
from tests.store.conftest import add_run, commit_file


def _busy_run(project: Project) -> str:
    """A run planned with three steps: one passed QA, one failed QA, one waiting; a job."""
    uid = add_run(project.store, name="add-login", steps=3)

    def work(tx: Tx) -> None:
        tx.emit(StepStarted(engine="demo"), run=uid, step=1)
        tx.emit(StepFinished(summary="form added",
                             usage=Usage(input_tokens=1200, output_tokens=300)), run=uid, step=1)
        tx.emit(StepQaVerdict(verdict="PASS"), run=uid, step=1)
        tx.emit(StepStarted(), run=uid, step=2)
        tx.emit(StepFinished(summary="tests"), run=uid, step=2)
        tx.emit(StepQaVerdict(verdict="FAIL", summary="tests do not run"), run=uid, step=2)
        queue.request(tx, JobKind.EXECUTE, run=uid, step=2)

    project.store.transact(work)
    add_run(project.store, name="docs", steps=0)
    return uid


BUCKET = re.compile(r"\b(runs|events)/[0-9A-Z]{5,7}/")


def _invoke(cli, repo: Path, scrubber, *args: str) -> tuple[tuple[str, ...], int, str]:
    result = cli(*args, cwd=repo)
    return args, result.exit_code, BUCKET.sub(r"\1/<BUCKET>/", scrubber(result.output, repo))


def test_read_commands_render_runs_steps_and_events(project: Project, repo: Path, cli,
                                                    scrubber, snapshot) -> None:
    _busy_run(project)
    outputs = [_invoke(cli, repo, scrubber, *args) for args in (
        ("status",), ("status", "1"), ("status", "add-login", "--json"), ("events", "--limit", "4"),
        ("events", "docs", "--json"),
    )]
    assert outputs == snapshot


def test_project_show_and_config_list(project: Project, repo: Path, cli, scrubber, snapshot,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    cli("config", "set", "budget.tokens", "50000", cwd=repo)
    monkeypatch.setenv("DFLOW_QA_POLICY", "end")
    outputs = [_invoke(cli, repo, scrubber, *args) for args in (
        ("project", "show"), ("config", "list"), ("config", "get", "qa.policy", "--json"),
    )]
    # Keep the snapshot to the lines that are not defaults, so a new setting elsewhere does
    # not churn it; that every key is listed is checked against the model instead.
    args, code, listing = outputs[1]
    assert [line.split(" = ")[0] for line in listing.splitlines()] == config.leaf_keys()
    outputs[1] = (args, code, "\n".join(
        line for line in listing.splitlines() if not line.endswith("(defaults)")))
    assert outputs == snapshot


def test_doctor_reports_each_check(project: Project, repo: Path, cli, scrubber, snapshot,
                                   monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Only git on PATH, so the optional tools are reported missing on every machine.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    git_path = shutil.which("git")
    assert git_path is not None
    os.symlink(git_path, bin_dir / "git")
    monkeypatch.setenv("PATH", str(bin_dir))
    result = _invoke(cli, repo, scrubber, "doctor")
    versions = re.compile(r"\b\d+\.\d+(\.\d+)?\S*")
    assert (result[1], versions.sub("<V>", result[2])) == snapshot


def test_errors_are_one_line_and_leave_the_ref_alone(project: Project, repo: Path, cli,
                                                     scrubber, snapshot, tmp_path: Path) -> None:
    uid = _busy_run(project)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git("init", "-q", cwd=fresh)
    outputs = [
        _invoke(cli, fresh, scrubber, "status"),
        _invoke(cli, repo, scrubber, "status", "nope"),
        _invoke(cli, repo, scrubber, "status", "0"),
        _invoke(cli, repo, scrubber, "config", "get", "qa.nope"),
        _invoke(cli, repo, scrubber, "events", "--limit", "0"),
    ]
    doc = json.loads(git("show", f"refs/deksdenflow/state:{run_snapshot_path(uid)}", cwd=repo))
    commit_file(repo, run_snapshot_path(uid), json.dumps({**doc, "steps": "many"}).encode(),
                author="dflow")
    outputs.append(_invoke(cli, repo, scrubber, "status"))
    commit_file(repo, META_FILE, b'{"schema_version": 2, "lamport": 1}', author="dflow")
    tip = git("rev-parse", "refs/deksdenflow/state", cwd=repo)
    outputs.append(_invoke(cli, repo, scrubber, "new", "more", "--task", "t", "--no-plan"))
    assert git("rev-parse", "refs/deksdenflow/state", cwd=repo) == tip
    assert outputs == snapshot
    assert all("Traceback" not in out for _, _, out in outputs)
