"""A state ref written by dflow b21a015 (before typed events) still reads with today's code.

The bundle is built by `fixtures/build_old_ref.sh` with the old code; it holds a completed demo
run with a CI failure and its `run.note` (written with `text`), and a second, paused run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git

BUNDLE = Path(__file__).parent / "fixtures" / "ref-b21a015.bundle"


@pytest.fixture
def old_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "old"
    git("init", "-q", "-b", "scratch", str(repo), cwd=tmp_path)
    git("fetch", "-q", str(BUNDLE), "+refs/*:refs/*", cwd=repo)
    git("checkout", "-q", "main", cwd=repo)
    return repo


def test_a_ref_written_by_b21a015_reads_with_status_json(old_repo: Path, cli) -> None:
    result = cli("status", "--json", cwd=old_repo)
    assert result.exit_code == 0, result.output
    runs = {r["id"]: r for r in json.loads(result.output)["runs"]}
    assert runs["0001-greeting"]["status"] == "blocked"  # by the failed CI report
    assert runs["0001-greeting"]["steps_done"] == 3
    assert runs["0002-second-run"]["paused"] is True


def test_a_ci_note_of_b21a015_is_shown_by_show(old_repo: Path, cli) -> None:
    result = cli("show", "0001", cwd=old_repo)
    assert result.exit_code == 0, result.output
    assert "no CI fix requested: token budget used up" in result.output


def test_a_ref_written_by_b21a015_takes_new_writes(old_repo: Path, cli) -> None:
    assert cli("resume", "0002", cwd=old_repo).exit_code == 0
    shown = json.loads(cli("status", "0002", "--json", cwd=old_repo).output)
    assert shown["runs"][0]["paused"] is False
