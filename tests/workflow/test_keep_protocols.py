"""`[land] keep_protocols = false`: the run's `.protocols/NNNN-name/` stays on the run branch
and out of the base, with every strategy; the run is recorded merged (decision 1579)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git
from tests.workflow.test_landing import DEMO_FILES, finished_run


@pytest.fixture
def local(repo: Path, cli) -> Path:
    assert cli("init", "--engine", "demo", cwd=repo).exit_code == 0
    return repo


def _files(ref: str, repo: Path) -> list[str]:
    return git("ls-tree", "-r", "--name-only", ref, cwd=repo).splitlines()


@pytest.mark.parametrize("strategy", ["merge", "squash", "rebase"])
def test_the_protocol_folder_stays_off_the_base(local: Path, cli, strategy: str) -> None:
    assert cli("config", "set", "land.keep_protocols", "false", cwd=local).exit_code == 0
    run = finished_run(cli, local)
    result = cli("land", run, "--strategy", strategy, cwd=local)
    assert result.exit_code == 0, result.output
    on_base = _files("main", local)
    assert set(DEMO_FILES) <= set(on_base)
    assert not [f for f in on_base if f.startswith(".protocols/")], on_base
    assert not (local / ".protocols").exists()  # the checkout of main moved with it
    assert f".protocols/{run}/plan.md" in _files(run, local)  # the branch (and PR) keep it
    line = json.loads(cli("status", "--json", cwd=local).output)["runs"][0]
    assert (line["status"], line["merged"]) == ("completed", True)


def test_by_default_the_protocol_folder_lands(local: Path, cli) -> None:
    run = finished_run(cli, local)
    assert cli("land", run, "--strategy", "squash", cwd=local).exit_code == 0
    assert f".protocols/{run}/plan.md" in _files("main", local)
