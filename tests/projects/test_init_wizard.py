"""`dflow init` asks on a terminal (driven through a pseudo-terminal with pexpect) and gives
the very same project.toml as the flags, or as `--yes` when every answer is Enter."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pexpect
import pytest

from deksdenflow.projects.detect import ci_provider
from deksdenflow.wiring import open_project
from tests.conftest import git, make_repo

SOURCE_ROOT = str(Path(__file__).resolve().parents[2])
QUESTIONS = ["Base branch", "CI provider", "Engine", "Model", "QA policy", "Token budget",
             "Budget mode"]


def _wizard(repo: Path, answers: list[str]) -> str:
    env = {**os.environ, "PYTHONPATH": SOURCE_ROOT, "TERM": "dumb"}
    child = pexpect.spawn(sys.executable, ["-m", "deksdenflow.cli.main", "init"], cwd=str(repo),
                          env=env, encoding="utf-8", timeout=60)
    for question, answer in zip(QUESTIONS, answers, strict=True):
        child.expect(question)
        child.sendline(answer)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    return str(child.before)


def _settings(repo: Path) -> str:
    return open_project(repo).view().project_text().replace(f'"{repo.name}"', '"NAME"')


@pytest.mark.slow
def test_the_wizard_gives_what_the_flags_give(cli: Any, tmp_path: Path) -> None:
    asked, flagged = make_repo(tmp_path / "asked"), make_repo(tmp_path / "flagged")
    for repo in (asked, flagged):  # the base must exist (init refuses one that does not)
        git("branch", "trunk", cwd=repo)
    _wizard(asked, ["trunk", "gitlab", "demo", "m-1", "end", "5000", "warn"])
    done = cli("init", "--base", "trunk", "--ci-provider", "gitlab", "--engine", "demo",
               "--model", "m-1", "--qa-policy", "end", "--budget-tokens", "5000",
               "--budget-mode", "warn", cwd=flagged)
    assert done.exit_code == 0, done.output
    assert _settings(asked) == _settings(flagged)
    settings = open_project(asked).settings()
    assert (settings.project.base_branch, settings.ci.provider, settings.engines["demo"].model,
            settings.qa.policy, settings.budget.tokens) == ("trunk", "gitlab", "m-1", "end", 5000)


@pytest.mark.slow
def test_enter_throughout_gives_what_yes_gives(cli: Any, tmp_path: Path) -> None:
    asked, quiet = make_repo(tmp_path / "asked"), make_repo(tmp_path / "quiet")
    _wizard(asked, [""] * len(QUESTIONS))
    assert cli("init", "--yes", cwd=quiet).exit_code == 0
    assert _settings(asked) == _settings(quiet)


def test_a_bad_answer_given_as_a_flag_is_a_usage_error(cli: Any, repo: Path) -> None:
    done = cli("init", "--qa-policy", "sometimes", cwd=repo)
    assert done.exit_code == 2 and "--qa-policy" in done.output
    assert open_project(repo).store.tip() is None


@pytest.mark.parametrize(("url", "provider"), [
    ("https://github.com/me/app.git", "github"),
    ("git@github.com:me/app.git", "github"),
    ("https://gitlab.com/me/app.git", "gitlab"),
    ("ssh://git@gitlab.example.org:2222/me/app.git", "gitlab"),
    ("file:///srv/git/app.git", "none"),
    ("/srv/git/app.git", "none"),
])
def test_the_ci_provider_is_detected_from_the_remote_url(url: str, provider: str) -> None:
    assert ci_provider(url) == provider


@pytest.mark.slow
def test_each_answer_is_checked_as_it_is_given_and_the_command_engine_asks_its_line(
        tmp_path: Path) -> None:
    """Before: base `develop` and engine `cluade` were taken, all questions asked, then init
    failed on the branch and every answer was lost; `command` never asked its command line."""
    repo = make_repo(tmp_path / "r")
    env = {**os.environ, "PYTHONPATH": SOURCE_ROOT, "TERM": "dumb", "COLUMNS": "300"}
    child = pexpect.spawn(sys.executable, ["-m", "deksdenflow.cli.main", "init"], cwd=str(repo),
                          env=env, encoding="utf-8", timeout=60)
    steps = [("Base branch", "develop"), ("there is no branch 'develop'", None),
             ("Base branch", "main"), ("CI provider", "none"), ("Engine", "cluade"),
             ("unknown engine 'cluade' \\(did you mean 'claude'\\?\\)", None),
             ("Engine", "command"), ("Model", ""), ("QA policy", ""), ("Token budget", ""),
             ("Budget mode", ""), ("Command line for the command engine", ""),
             ("needs a command line", None),
             ("Command line for the command engine", "my-agent --in {prompt_fil}"),
             ("unknown placeholder", None),
             ("Command line for the command engine", 'my-agent --in "{prompt_file}"')]
    for expected, answer in steps:
        child.expect(expected)
        if answer is not None:
            child.sendline(answer)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    settings = open_project(repo).settings()
    assert settings.project.base_branch == "main" and settings.phases.default == "command"
    assert settings.engines["command"].options["command"] == 'my-agent --in "{prompt_file}"'
