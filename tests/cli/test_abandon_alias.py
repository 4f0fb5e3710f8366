"""`dflow abandon`: another name for `dflow cancel`, listed in the help, a ready run too."""

from __future__ import annotations

import json
from pathlib import Path

from deksdenflow.cli import commands
from tests.conftest import git
from tests.workflow.test_landing import finished_run


def test_abandon_cancels_a_ready_run_and_clean_then_removes_it(repo: Path, cli) -> None:
    assert cli("init", "--engine", "demo", cwd=repo).exit_code == 0
    run = finished_run(cli, repo)
    result = cli("abandon", run, "--reason", "superseded", "--json", cwd=repo)
    assert result.exit_code == 0, result.output
    line = json.loads(cli("status", run, "--json", cwd=repo).output)["runs"][0]
    assert (line["status"], line["stage"]) == ("cancelled", "cancelled")
    events = cli("events", "--json", cwd=repo).output
    assert "superseded" in events
    assert cli("clean", run, "--force", cwd=repo).exit_code == 0
    assert not git("branch", "--list", run, cwd=repo).strip()
    again = cli("abandon", run, cwd=repo)
    assert again.exit_code == 1 and "Traceback" not in again.output


def test_abandon_is_in_the_help(cli) -> None:
    assert "abandon" in commands.root_help()
    own = cli("abandon", "--help")
    assert own.exit_code == 0 and "another name for `dflow cancel`" in own.output
