"""A run's name is free again once its run is merged or cancelled and cleaned; an active or
ready run's name is still refused with the command that frees it (decision 1578)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git
from tests.workflow.test_landing import finished_run

STATE = "refs/deksdenflow/state"


@pytest.fixture
def local(repo: Path, cli) -> Path:
    assert cli("init", "--engine", "demo", cwd=repo).exit_code == 0
    return repo


def test_the_name_of_a_merged_run_may_be_used_again(local: Path, cli) -> None:
    run = finished_run(cli, local)
    ready = cli("new", "hello", "--task", "again", "--no-plan", cwd=local)
    assert ready.exit_code == 1 and "Traceback" not in ready.output
    assert (f"protocol run {run} already uses the name 'hello' (it is ready to land); "
            f"land it (dflow land {run}) or cancel it (dflow cancel {run}) first") in ready.output
    assert cli("land", run, cwd=local).exit_code == 0
    again = cli("new", "hello", "--task", "say hello again", "--no-plan", cwd=local)
    assert again.exit_code == 0, again.output
    assert "created 0002-hello" in again.output
    assert git("rev-parse", "--verify", "refs/heads/0002-hello", cwd=local)
    runs = json.loads(cli("status", "--json", cwd=local).output)["runs"]
    assert sorted(r["id"] for r in runs) == ["0001-hello", "0002-hello"]
    shown = cli("show", "hello", "--json", cwd=local)  # the bare name: the open run
    assert shown.exit_code == 0, shown.output
    assert "0002-hello" in shown.output and "0001-hello" not in shown.output


def test_a_cancelled_and_cleaned_name_is_free_an_active_one_is_not(local: Path, cli) -> None:
    assert cli("new", "fix", "--task", "fix it", "--no-plan", cwd=local).exit_code == 0
    before = git("rev-parse", STATE, cwd=local)
    clash = cli("new", "fix", "--task", "fix it again", "--no-plan", cwd=local)
    assert clash.exit_code == 1 and "Traceback" not in clash.output
    assert ("protocol run 0001-fix already uses the name 'fix' (it is pending); cancel it "
            "(dflow cancel 0001-fix) first, or choose another name") in clash.output
    assert git("rev-parse", STATE, cwd=local) == before
    assert cli("cancel", "0001-fix", cwd=local).exit_code == 0
    assert cli("clean", "0001-fix", cwd=local).exit_code == 0
    again = cli("new", "fix", "--task", "fix it again", "--no-plan", cwd=local)
    assert again.exit_code == 0, again.output
    assert "created 0002-fix" in again.output
