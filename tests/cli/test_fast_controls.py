"""`dflow pause|resume|step approve|new` answer before Typer, exactly as the Typer commands do
(docs/decisions/1315-controls-answer-before-typer.md).

Each command runs in a fresh interpreter (the probe below), which reports what it printed,
its exit code and the modules it loaded; the same command through Typer's runner must print
the same thing from the same state.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from tests.conftest import git, scrub
from tests.store.conftest import add_run

_PROBE = """
import json, os, sys
sys.argv = ["dflow", *json.loads(sys.argv[1])]

def report(code, how):
    sys.stdout.flush()
    sys.stderr.write("\\nPROBE " + json.dumps([code, how, sorted(sys.modules)]) + "\\n")
    sys.stderr.flush()

exit_now = os._exit
os._exit = lambda code: (report(code, "os._exit"), exit_now(code))
from deksdenflow.cli.main import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code or 0
report(code, "returned")
"""


@dataclass
class Fresh:
    code: int
    out: str
    err: str
    modules: set[str]
    how: str  # "os._exit": the fast path ended the process; "returned": Typer's way


def fresh(argv: list[str], cwd: Path) -> Fresh:
    """`dflow ARGV` in a fresh interpreter: exit code, stdout, stderr, loaded modules."""
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(argv)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    marker = done.stderr.rfind("\nPROBE ")
    assert marker >= 0, done.stderr
    code, how, modules = json.loads(done.stderr[marker + len("\nPROBE "):])
    assert how == "returned" or done.returncode == code  # os._exit gave the code itself
    return Fresh(code, done.stdout, done.stderr[:marker], set(modules), how)


def answered_fast(found: Fresh) -> bool:
    """No Typer command module ran (an error still loads the CLI's error handler)."""
    commands = {"deksdenflow.cli.runs.workflow_cmds", "deksdenflow.cli.runs.runs_cmds"}
    fast = "deksdenflow.cli.runs.fast_controls" in found.modules and not commands & found.modules
    assert fast == (found.how == "os._exit")  # only the fast path skips the teardown
    return fast


def _same(fast: Fresh, typer_result: object, repo: Path) -> None:
    assert answered_fast(fast)
    if fast.code == 0:
        assert "typer" not in fast.modules and "rich" not in fast.modules
    assert fast.code == typer_result.exit_code  # type: ignore[attr-defined]
    assert scrub(fast.out, repo) == scrub(typer_result.stdout, repo)  # type: ignore[attr-defined]


@pytest.fixture
def run_repo(project: Project, repo: Path, cli: Callable[..., object]) -> Path:
    cli("new", "first", "--task", "do it", "--no-plan", cwd=repo)
    return repo


def test_pause_and_resume_print_what_the_typer_commands_print(run_repo: Path,
                                                             cli: Callable[..., object]) -> None:
    for args in (["pause", "1"], ["pause", "1", "--json"]):
        fast = fresh(args, run_repo)
        cli("resume", "1", cwd=run_repo)
        _same(fast, cli(*args, cwd=run_repo), run_repo)
        fast = fresh(["resume", *args[1:]], run_repo)
        cli("pause", "1", cwd=run_repo)
        _same(fast, cli("resume", *args[1:], cwd=run_repo), run_repo)
    assert fresh(["pause", "first"], run_repo).out == "paused 0001-first; it is paused\n"


def test_an_error_is_the_same_sentence_code_and_json(run_repo: Path,
                                                     cli: Callable[..., object]) -> None:
    before = git("rev-parse", "refs/deksdenflow/state", cwd=run_repo)
    for args in (["resume", "1"], ["resume", "1", "--json"], ["pause", "9"],
                 ["step", "approve", "1", "3"]):
        fast = fresh(args, run_repo)
        assert fast.code == 1 and fast.err.startswith("error: "), args
        typer_result = cli(*args, cwd=run_repo)
        _same(fast, typer_result, run_repo)
        assert fast.err.strip() in typer_result.output  # type: ignore[attr-defined]
    assert json.loads(fresh(["pause", "9", "--json"], run_repo).out)["error"]["code"] == 1
    assert git("rev-parse", "refs/deksdenflow/state", cwd=run_repo) == before


def test_new_and_step_approve_answer_before_typer(project: Project, repo: Path,
                                                  cli: Callable[..., object]) -> None:
    fast = fresh(["new", "Add Login", "--task", "log in", "--no-plan"], repo)
    assert fast.code == 0 and "typer" not in fast.modules
    assert fast.out.startswith("created 0001-add-login (waiting) on branch 0001-add-login\n")
    typer_result = cli("new", "other", "-t", "x", "--no-plan", cwd=repo)
    assert scrub(fast.out, repo).replace("add-login", "other").replace("0001", "0002") == \
        scrub(typer_result.stdout, repo)  # type: ignore[attr-defined]
    clash = fresh(["new", "add-login", "-t", "again", "--no-plan", "--json"], repo)
    assert clash.code == 1 and "already uses the name 'add-login'" in clash.err
    assert answered_fast(clash)
    assert json.loads(clash.out)["error"]["code"] == 1
    with_plan = fresh(["new", "planned", "--task", "t"], repo)
    assert "plan requested;" in with_plan.out and "typer" not in with_plan.modules


def test_step_approve_prints_what_the_typer_command_prints(project: Project, repo: Path,
                                                           cli: Callable[..., object]) -> None:
    for name in ("a", "b", "c", "d"):
        add_run(project.store, name, steps=2)
    for fast_args, typer_args in ((["1", "02"], ["2", "2"]),
                                  (["3", "2", "--json"], ["4", "2", "--json"])):
        fast = fresh(["step", "approve", *fast_args], repo)
        typer_result = cli("step", "approve", *typer_args, cwd=repo)
        assert fast.code == 0 and "typer" not in fast.modules
        theirs = typer_result.stdout  # type: ignore[attr-defined]
        if "--json" in fast_args:  # another run: all but its names and number are the same
            names = ("id", "uid", "number", "name", "task", "branch", "worktree", "updated",
                     "waiting")
            mine, other = json.loads(fast.out), json.loads(theirs)
            assert {k: v for k, v in mine.items() if k not in names} == \
                {k: v for k, v in other.items() if k not in names}
            assert fast.out.startswith('{\n  "id": "0003-c",\n')
        else:
            assert fast.out.replace("0001-a", "0002-b") == theirs


@pytest.mark.parametrize("argv", [
    ["pause", "--", "1"], ["new", "x", "--task=t"], ["new", "x", "-t", "t", "--engine", "demo"],
    ["step", "approve", "1", "x2"], ["--debug", "pause", "1"], ["pause", "1", "--json", "--json"],
])
def test_any_other_spelling_is_left_to_typer(run_repo: Path, argv: list[str]) -> None:
    assert not answered_fast(fresh(argv, run_repo))


def test_a_repository_with_a_remote_answers_fast_and_pushes_the_change(
        run_repo: Path, tmp_path: Path, cli: Callable[..., object]) -> None:
    """The implicit sync around a control costs its push only (sync/seen.py): with nothing
    fetched to merge, the fast path answers, then pushes; a teammate's clone sees it."""
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    git("remote", "add", "origin", str(remote), cwd=run_repo)
    git("push", "-q", "origin", "main", cwd=run_repo)
    assert cli("sync", cwd=run_repo).exit_code == 0  # type: ignore[attr-defined]
    cli("status", cwd=run_repo)  # the implicit sync has looked: nothing moved since
    found = fresh(["pause", "1"], run_repo)
    assert found.code == 0 and answered_fast(found), found.err
    assert "typer" not in found.modules
    tip = git("rev-parse", "refs/deksdenflow/state", cwd=run_repo)
    assert git("ls-remote", str(remote), "refs/deksdenflow/state", cwd=tmp_path).split()[0] == tip
    teammate = tmp_path / "teammate"
    git("clone", "-q", str(remote), str(teammate), cwd=tmp_path)
    git("fetch", "-q", "origin", "refs/deksdenflow/state:refs/deksdenflow/state", cwd=teammate)
    shown = fresh(["status", "--json"], teammate)
    assert json.loads(shown.out)["runs"][0]["paused"] is True, shown.err


@pytest.mark.parametrize("argv", [
    ["--json", "pause", "1"],
    ["--json", "new", "second", "--task", "t", "--no-plan"],
    ["step", "--json", "approve", "1", "1"],
])
def test_json_before_the_command_words_is_a_usage_error_and_changes_nothing(
        run_repo: Path, cli: Callable[..., object], argv: list[str]) -> None:
    assert cli(*argv, cwd=run_repo).exit_code == 2  # type: ignore[attr-defined]
    before = git("rev-parse", "refs/deksdenflow/state", cwd=run_repo)
    found = fresh(argv, run_repo)
    assert found.code == 2, (found.code, found.out, found.err)
    assert git("rev-parse", "refs/deksdenflow/state", cwd=run_repo) == before


@pytest.mark.parametrize("step", ["²", "３"])  # str.isdigit() takes both; Typer refuses them
def test_a_step_number_typer_would_refuse_is_a_usage_error(
        run_repo: Path, cli: Callable[..., object], step: str) -> None:
    argv = ["step", "approve", "1", step]
    assert cli(*argv, cwd=run_repo).exit_code == 2  # type: ignore[attr-defined]
    before = git("rev-parse", "refs/deksdenflow/state", cwd=run_repo)
    found = fresh(argv, run_repo)
    assert found.code == 2, (found.code, found.err)
    assert "internal error" not in found.err
    assert git("rev-parse", "refs/deksdenflow/state", cwd=run_repo) == before
