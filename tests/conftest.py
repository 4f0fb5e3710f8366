"""Shared fixtures: real git repositories in temp dirs, an isolated HOME, the CLI runner."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deksdenflow.cli.app import app
from deksdenflow.context.project import Project
from deksdenflow.wiring import init_project


def git(*args: str, cwd: Path | str) -> str:
    """Run real git; raise with its stderr on failure."""
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {out.stderr}")
    return out.stdout.strip()


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test sees the developer's HOME, git config, dflow config or CI variables."""
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        "[init]\n\tdefaultBranch = main\n[protocol \"file\"]\n\tallow = always\n"
    )
    for key in list(os.environ):
        if key.startswith(("DFLOW_", "GITHUB_", "GITLAB_", "CI_")) or key in ("CI", "NO_COLOR"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("DFLOW_CONFIG_FILE", str(home / "dflow-config.toml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))  # the projects registry
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))  # managed clones
    monkeypatch.setenv("DFLOW_ACTOR", "tester@testhost")
    monkeypatch.setenv("COLUMNS", "120")
    return home


def make_repo(path: Path, files: dict[str, str] | None = None, branch: str = "main") -> Path:
    """A real repository with one commit holding `files` (default: a README)."""
    path.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "-b", branch, cwd=path)
    for name, text in (files or {"README.md": "# demo\n"}).items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "initial", cwd=path)
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


@pytest.fixture
def project(repo: Path) -> Project:
    proj, _ = init_project(repo, engine="demo")
    return proj


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    """Invoke `dflow ARGS` in `cwd` through Typer's runner; returns the Result."""
    runner = CliRunner()

    def invoke(*args: str, cwd: Path | str | None = None, input: str | None = None) -> object:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        return runner.invoke(app, list(args), input=input, catch_exceptions=False,
                             prog_name="dflow")

    return invoke


_SCRUBS = [
    (re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b"), "<ULID>"),
    (re.compile(r"\b[0-9a-f]{40}\b"), "<SHA>"),
    (re.compile(r"\b[0-9a-f]{12}\b"), "<SHORT-SHA>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?"), "<TIME>"),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"), "<TIME>"),
    (re.compile(r"\b\d+[smhd] ago\b"), "<AGO>"),
]


def scrub(text: str, *paths: Path) -> str:
    """Remove what changes from run to run (temp paths, ids, hashes, times)."""
    for p in paths:
        text = text.replace(str(p), "<TMP>")
    for pattern, repl in _SCRUBS:
        text = pattern.sub(repl, text)
    return text


@pytest.fixture
def scrubber() -> Iterator[Callable[..., str]]:
    yield scrub
