"""`[land] keep_protocols = false`: the run's `.protocols/NNNN-name/` stays on the run branch
and out of the base, with every strategy; the run is recorded merged (decision 1579)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import git
from tests.sync.conftest import make_remote
from tests.workflow.test_landing import DEMO_FILES, fake_gh, finished_run


@pytest.fixture
def local(repo: Path, cli) -> Path:
    assert cli("init", "--engine", "demo", cwd=repo).exit_code == 0
    return repo


@pytest.fixture
def cloned(tmp_path: Path, cli) -> tuple[Path, Path]:
    bare = make_remote(tmp_path)
    work = tmp_path / "work"
    git("clone", "-q", bare.as_uri(), str(work), cwd=tmp_path)
    assert cli("init", "--engine", "demo", cwd=work).exit_code == 0
    return work, bare


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


def test_a_merge_on_the_forge_says_the_folder_landed(cloned: tuple[Path, Path], cli,
                                                     tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    work, bare = cloned
    assert cli("config", "set", "land.keep_protocols", "false", cwd=work).exit_code == 0
    run = finished_run(cli, work)
    fake_gh(tmp_path / "bin", bare, tmp_path / "gh.log")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DFLOW_FAKE_BRANCH", run)
    cli("config", "set", "ci.provider", "github", cwd=work)
    assert cli("pr", run, cwd=work).exit_code == 0
    result = cli("land", run, "--via", "pr", cwd=work)
    assert result.exit_code == 0, result.output
    assert (f"keep_protocols = false applies to `dflow land`, not to a merge on the forge: "
            f".protocols/{run}/ is on main") in result.output
