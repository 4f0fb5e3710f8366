"""`dflow diff`, `land` and `clean` on real repositories, a bare remote and a fake `gh`."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest

from tests.conftest import git
from tests.sync.conftest import make_remote

STATE = "refs/deksdenflow/state"
DEMO_FILES = ["README.md", "demo_hello.py", "tests/test_demo_hello.py"]


def finished_run(cli, repo: Path, name: str = "hello") -> str:
    """A demo run whose three steps all passed; its id."""
    assert cli("new", name, "--task", "say hello", "--engine", "demo", cwd=repo).exit_code == 0
    result = cli("run", name, "--wait", cwd=repo)
    assert result.exit_code == 0, result.output
    return json.loads(cli("status", name, "--json", cwd=repo).output)["runs"][0]["id"]


@pytest.fixture
def local(repo: Path, cli) -> Path:
    assert cli("init", "--engine", "demo", cwd=repo).exit_code == 0
    return repo


@pytest.fixture
def cloned(tmp_path: Path, cli) -> tuple[Path, Path]:
    """(clone, bare remote): a dflow project whose base lives on a remote."""
    bare = make_remote(tmp_path)
    work = tmp_path / "work"
    git("clone", "-q", bare.as_uri(), str(work), cwd=tmp_path)
    assert cli("init", "--engine", "demo", cwd=work).exit_code == 0
    return work, bare


def test_diff_of_a_run_and_of_a_step(local: Path, cli) -> None:
    run = finished_run(cli, local)
    whole = json.loads(cli("diff", run, "--json", cwd=local).output)
    paths = [f["path"] for f in whole["files"]]
    assert set(DEMO_FILES) <= set(paths) and f".protocols/{run}/plan.md" in paths
    step = json.loads(cli("diff", run, "1", "--json", cwd=local).output)
    assert [f["path"] for f in step["files"]] == ["demo_hello.py"]
    assert "+def greet" in step["patch"]
    piped = cli("diff", run, "2", cwd=local)
    assert piped.output.startswith("diff --git a/tests/test_demo_hello.py")
    assert "\x1b[" not in piped.output  # plain when not a terminal
    assert "tests/test_demo_hello.py  +14 -0" in cli("diff", run, "--stat", cwd=local).output
    missing = cli("diff", run, "9", cwd=local)
    assert missing.exit_code == 1 and "has no step 9 (steps: 01, 02, 03)" in missing.output


@pytest.mark.parametrize("strategy", ["merge", "squash", "rebase"])
def test_land_each_strategy_without_a_remote(local: Path, cli, strategy: str) -> None:
    run = finished_run(cli, local)
    before = git("rev-parse", "main", cwd=local)
    result = cli("land", run, "--strategy", strategy, cwd=local)
    assert result.exit_code == 0, result.output
    assert f"{run} is merged" in result.output
    files = git("ls-tree", "-r", "--name-only", "main", cwd=local).splitlines()
    assert set(DEMO_FILES) <= set(files)
    assert (local / "demo_hello.py").is_file()  # the checkout of main moved with it
    parents = git("rev-list", "--parents", "-n1", "main", cwd=local).split()
    assert len(parents) == (3 if strategy == "merge" else 2)
    count = int(git("rev-list", "--count", f"{before}..main", cwd=local))
    assert count == {"merge": 5, "squash": 1, "rebase": 4}[strategy]  # plan + 3 steps
    line = json.loads(cli("status", "--json", cwd=local).output)["runs"][0]
    assert (line["status"], line["merged"], line["ready"]) == ("completed", True, False)
    assert "merged" in cli("status", cwd=local).output


def test_land_pushes_the_base_to_the_remote(cloned: tuple[Path, Path], cli) -> None:
    work, bare = cloned
    run = finished_run(cli, work)
    result = cli("land", run, cwd=work)
    assert result.exit_code == 0, result.output
    assert "pushed to origin" in result.output
    remote_files = git("ls-tree", "-r", "--name-only", "main", cwd=bare).splitlines()
    assert "demo_hello.py" in remote_files
    assert git("rev-parse", "main", cwd=work) == git("rev-parse", "main", cwd=bare)


def test_land_refuses_a_conflicting_base_and_changes_nothing(cloned: tuple[Path, Path],
                                                             cli, tmp_path: Path) -> None:
    work, bare = cloned
    run = finished_run(cli, work)
    other = tmp_path / "other"
    git("clone", "-q", bare.as_uri(), str(other), cwd=tmp_path)
    (other / "README.md").write_text("# someone else's readme\n")
    git("commit", "-qam", "readme elsewhere", cwd=other)
    git("push", "-q", "origin", "main", cwd=other)
    tips = {ref: git("rev-parse", ref, cwd=work) for ref in ("main", run, STATE)}
    remote_main = git("rev-parse", "main", cwd=bare)
    result = cli("land", run, cwd=work)
    assert result.exit_code == 1
    assert f"{run} conflicts with origin/main in 1 file: README.md; nothing was changed" \
        in result.output
    assert {ref: git("rev-parse", ref, cwd=work) for ref in tips} == tips
    assert git("rev-parse", "main", cwd=bare) == remote_main
    assert json.loads(cli("status", run, "--json", cwd=work).output)["runs"][0]["ready"]


def test_land_refuses_when_the_checkout_of_main_has_changes_it_would_touch(
        local: Path, cli) -> None:
    run = finished_run(cli, local)
    (local / "demo_hello.py").write_text("mine\n")  # untracked, and landing would add it
    (local / "notes.txt").write_text("keep me\n")
    result = cli("land", run, cwd=local)
    assert result.exit_code == 1 and "uncommitted changes to demo_hello.py" in result.output
    (local / "demo_hello.py").unlink()
    assert cli("land", run, cwd=local).exit_code == 0
    assert (local / "notes.txt").read_text() == "keep me\n"  # the user's own file is untouched


def test_land_refuses_a_run_that_is_not_done(local: Path, cli) -> None:
    cli("new", "later", "--task", "t", "--no-plan", cwd=local)
    result = cli("land", "later", cwd=local)
    assert result.exit_code == 1
    assert "0001-later is waiting (0/0 steps passed); land it when every step has passed" \
        in result.output


def fake_gh(bin_dir: Path, bare: Path, log: Path) -> None:
    """A stand-in `gh` that merges the PR's branch on the bare remote like GitHub would."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "gh"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {log}\n'
        'if [ "$1 $2" = "pr create" ]; then echo https://github.example/o/r/pull/7; exit 0; fi\n'
        'if [ "$1 $2" = "pr merge" ]; then\n'
        f'  git --git-dir={bare} update-ref refs/heads/main "$(git --git-dir={bare} rev-parse'
        ' refs/heads/$DFLOW_FAKE_BRANCH)"\n'
        "  echo merged; exit 0\nfi\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_land_via_pr_merges_with_gh_and_sees_the_merge(cloned: tuple[Path, Path], cli,
                                                       tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    work, bare = cloned
    run = finished_run(cli, work)
    log = tmp_path / "gh.log"
    fake_gh(tmp_path / "bin", bare, log)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DFLOW_FAKE_BRANCH", run)
    cli("config", "set", "ci.provider", "github", cwd=work)  # the bare remote stands for it
    assert cli("pr", run, cwd=work).exit_code == 0
    result = cli("land", run, "--via", "pr", "--strategy", "squash", cwd=work)
    assert result.exit_code == 0, result.output
    assert "pr merge https://github.example/o/r/pull/7 --squash" in log.read_text()
    assert f"{run} is merged" in result.output


def test_land_via_pr_without_gh_prints_the_exact_command(cloned: tuple[Path, Path], cli,
                                                         tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    work, bare = cloned
    run = finished_run(cli, work)
    fake_gh(tmp_path / "bin", bare, tmp_path / "gh.log")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    cli("config", "set", "ci.provider", "github", cwd=work)  # the bare remote stands for it
    assert cli("pr", run, cwd=work).exit_code == 0
    (tmp_path / "bin" / "gh").unlink()
    result = cli("land", run, "--via", "pr", cwd=work)
    assert result.exit_code == 1
    assert "merge by hand with `gh pr merge https://github.example/o/r/pull/7 --merge`" \
        in result.output


def test_clean_removes_merged_and_cancelled_but_keeps_unpushed_work(local: Path, cli) -> None:
    landed = finished_run(cli, local, "landed")
    assert cli("land", landed, cwd=local).exit_code == 0
    cli("new", "dropped", "--task", "t", "--no-plan", cwd=local)
    assert cli("cancel", "dropped", cwd=local).exit_code == 0
    unpushed = finished_run(cli, local, "unpushed")
    worktrees = local.parent / f"{local.name}.worktrees"
    state = git("rev-parse", STATE, cwd=local)

    dry = cli("clean", "--dry-run", cwd=local)
    assert "0001-landed: would remove worktree" in dry.output
    assert (worktrees / "0001-landed").is_dir()
    result = cli("clean", cwd=local)
    assert result.exit_code == 0, result.output
    assert not (worktrees / "0001-landed").exists() and not (worktrees / "0002-dropped").exists()
    branches = git("branch", "--format=%(refname:short)", cwd=local).split()
    assert "0001-landed" not in branches and "0002-dropped" not in branches
    assert (worktrees / unpushed).is_dir() and unpushed in branches
    assert git("rev-parse", STATE, cwd=local) == state  # the state history is kept

    kept = cli("clean", unpushed, cwd=local)
    assert f"{unpushed}: kept: it is ready to land; `dflow land {unpushed}`, or `dflow " \
        f"cancel {unpushed}` to abandon it first" in kept.output


def test_clean_force_abandons_a_ready_run_instead_of_leaving_it_ready(local: Path,
                                                                      cli) -> None:
    """Before: `clean --force` removed the work and the run stayed "ready to land" forever,
    while `land` said its branch did not exist."""
    run = finished_run(cli, local)
    forced = cli("clean", run, "--force", cwd=local)
    assert forced.exit_code == 0, forced.output
    assert f"{run}: cancelled (--force)\n{run}: removed worktree" in forced.output
    line = json.loads(cli("status", run, "--json", cwd=local).output)["runs"][0]
    assert (line["status"], line["stage"]) == ("cancelled", "cancelled")
    refused = cli("land", run, cwd=local)
    assert refused.exit_code == 1
    assert f"{run} is cancelled; there is nothing to land" in refused.output


def test_a_ready_run_is_abandoned_and_cleaned_keeping_only_unique_work(cloned, cli) -> None:
    """`cancel` works on a ready run; `clean` then removes its worktree, and its branch
    unless the branch holds commits that exist nowhere else (it says so; --force deletes)."""
    work, _ = cloned
    worktrees = work.parent / f"{work.name}.worktrees"
    pushed = finished_run(cli, work, "pushed")
    git("push", "-q", "origin", pushed, cwd=work)  # its commits exist on the remote too
    alone = finished_run(cli, work, "alone")
    tree = worktrees / alone
    (tree / "mine.txt").write_text("a person's own work, on this branch only\n")
    git("add", "mine.txt", cwd=tree)
    git("commit", "-qm", "mine", cwd=tree)
    for run in (pushed, alone):
        cancelled = cli("cancel", run, cwd=work)
        assert cancelled.exit_code == 0, cancelled.output
        assert cancelled.output == f"cancelled {run}; it is cancelled\n"
    result = cli("clean", cwd=work)
    assert result.exit_code == 0, result.output
    assert f"{pushed}: removed worktree {worktrees / pushed} and branch {pushed}" \
        in result.output
    assert f"{alone}: removed worktree {worktrees / alone}\n" in result.output
    assert re.search(f"{alone}: kept: branch {alone}: [0-9]+ commits? on no remote and not "
                     f"merged into main; push it, or `dflow clean {alone} --force` deletes it",
                     result.output), result.output
    branches = git("branch", "--format=%(refname:short)", cwd=work).split()
    assert pushed not in branches and alone in branches
    assert not (worktrees / alone).exists()
    forced = cli("clean", alone, "--force", cwd=work)
    assert f"{alone}: removed branch {alone}" in forced.output, forced.output
    assert alone not in git("branch", "--format=%(refname:short)", cwd=work).split()


def test_clean_keeps_a_cancelled_branch_with_unpushed_commits(local: Path, cli) -> None:
    cli("new", "x", "--task", "t", "--no-plan", cwd=local)
    tree = local.parent / f"{local.name}.worktrees" / "0001-x"
    (tree / "work.txt").write_text("work\n")
    git("add", "-A", cwd=tree)
    git("commit", "-qm", "work", cwd=tree)
    cli("cancel", "x", cwd=local)
    result = cli("clean", "--cancelled", cwd=local)
    assert "0001-x: kept: branch 0001-x: 1 commit on no remote and not merged into main" \
        in result.output
    assert not tree.exists()  # the worktree goes; the branch holds the work
    assert "removed branch 0001-x" in cli("clean", "x", "--force", cwd=local).output


def test_done_when_on_a_fresh_clone(tmp_path: Path, cli) -> None:
    """new -> run to the end -> diff shows the demo's files -> land puts them on main ->
    clean --merged removes its worktree and branch; an unmerged run's worktree stays."""
    origin = make_remote(tmp_path)
    work = tmp_path / "clone"
    git("clone", "-q", origin.as_uri(), str(work), cwd=tmp_path)
    assert cli("init", "--engine", "demo", cwd=work).exit_code == 0
    run = finished_run(cli, work, "hello")
    cli("new", "other", "--task", "t", "--no-plan", cwd=work)
    stat_out = cli("diff", run, "--stat", cwd=work).output
    assert all(name in stat_out for name in DEMO_FILES), stat_out
    assert cli("land", run, cwd=work).exit_code == 0
    assert "demo_hello.py" in git("ls-tree", "--name-only", "main", cwd=origin)
    assert cli("status", "--merged", "--json", cwd=work).output.count('"id"') == 1
    assert "merged" in cli("status", run, cwd=work).output
    cleaned = cli("clean", "--merged", cwd=work)
    assert cleaned.exit_code == 0, cleaned.output
    trees = work.parent / f"{work.name}.worktrees"
    assert not (trees / run).exists() and (trees / "0002-other").is_dir()
    assert run not in git("branch", cwd=work)


def test_land_queue_lands_ready_runs_in_order_and_blocks_a_conflict(local: Path, cli) -> None:
    first, second = finished_run(cli, local, "a"), finished_run(cli, local, "b")
    one_step = {"summary": "s", "steps": [{"index": 1, "type": "work", "title": "c",
                                           "file": "01-c.md", "depends_on": None}],
                "files": [{"path": n, "content": "<!-- dflow-demo: line c.txt -->\n"}
                          for n in ("plan.md", "context.md", "log.md", "01-c.md")]}
    options = json.dumps(json.dumps(one_step))
    assert cli("config", "set", "engines.demo.options", f"{{plan_reply = {options}}}",
               cwd=local).exit_code == 0
    third = finished_run(cli, local, "c")

    result = cli("land", "--queue", "--json", cwd=local)
    assert result.exit_code == 4, result.output
    entries = json.loads(result.output)["entries"]
    assert [(e["run"], e["landed"], e["files"]) for e in entries] == [
        (first, True, []), (second, False, ["README.md"]), (third, True, [])]
    files = git("ls-tree", "-r", "--name-only", "main", cwd=local).splitlines()
    assert {"demo_a.py", "c.txt"} <= set(files) and "demo_b.py" not in files
    status = json.loads(cli("status", second, "--json", cwd=local).output)["runs"][0]
    assert status["status"] == "blocked" and "README.md" in json.dumps(status)
    again = cli("land", "--queue", cwd=local)
    assert again.exit_code == 4 and f"blocked: {second}" in again.output
    assert "landed" not in again.output  # the landed runs are merged: not ready any more


def test_landing_without_a_git_identity_says_how_to_set_one(local: Path, cli, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """Before: the merge on the person's main was silently 'dflow <dflow@localhost>'."""
    run = finished_run(cli, local)
    bare = tmp_path / "no-identity.gitconfig"
    bare.write_text("[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(bare))
    result = cli("land", run, cwd=local)
    assert result.exit_code == 0, result.output
    assert "warning: the landed commit was made as 'dflow <dflow@localhost>' because git has " \
        "no identity here; set yours with `git config --global user.name" in result.output
    assert git("log", "-1", "--format=%an <%ae>", "main", cwd=local) == "dflow <dflow@localhost>"
    again = finished_run(cli, local, "second")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "missing"))
    git("config", "user.email", "me@example.com", cwd=local)
    git("config", "user.name", "Me", cwd=local)
    quiet = cli("land", again, cwd=local)
    assert "warning" not in quiet.output and \
        git("log", "-1", "--format=%an", "main", cwd=local) == "Me"


def test_inside_a_run_s_worktree_show_diff_logs_and_land_mean_that_run(local: Path,
                                                                      cli) -> None:
    run = finished_run(cli, local)
    tree = local.parent / f"{local.name}.worktrees" / run
    assert cli("show", cwd=tree).output.startswith(f"{run}  ready to land  branch {run}")
    assert "demo_hello.py  +" in cli("diff", "--stat", cwd=tree / "tests").output
    assert cli("logs", cwd=tree).output.startswith("# transcripts/plan-")
    landed = cli("land", cwd=tree)
    assert landed.exit_code == 0, landed.output
    assert f"{run} is merged" in landed.output
    outside = cli("show", cwd=local)  # the main checkout is on main: no run is meant
    assert outside.exit_code == 2
    assert "name a run (`dflow status` lists them), or run this inside a run's worktree" \
        in outside.output
