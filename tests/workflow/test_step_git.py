"""The git work of a step (issue 16): reads answered in-process say what git says, the commit
folds its identity check, and a step runs only the git processes it needs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from deksdenflow.context.project import Project
from deksdenflow.git import local, runner
from deksdenflow.workflow.checkouts import worktrees
from deksdenflow.workflow.phases import changes
from tests.conftest import git, make_repo
from tests.workflow.conftest import settle


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The argv (after the safe `-c` options) of every git process dflow runs."""
    calls: list[list[str]] = []
    real = runner.execute

    def counted(argv: list[str], *rest: Any) -> Any:
        calls.append(argv[len(runner.SAFE_CONFIG) + 1:])
        return real(argv, *rest)

    monkeypatch.setattr(runner, "execute", counted)
    return calls


def test_a_step_runs_only_the_git_processes_it_needs(
        project: Project, new_run: Any, spawned: list[list[str]]) -> None:
    new_run()
    done = settle(project)
    assert done.run.status.value == "completed" and len(done.steps) == 3
    names = [next(a for a in argv if not a.startswith("-") and "=" not in a)
             for argv in spawned]
    # Per step: the clean check, add, the staged list, commit and, before QA, the check that
    # nothing wrote into the worktree after the commit (decision 1531); per run:
    # the checkout's status, the worktree, the plan's commit. No `rev-parse`, `cat-file`,
    # `config`, `symbolic-ref` or `show`: HEAD, the contract files, the common dir and the
    # step's diff for QA are read in-process.
    assert not {"rev-parse", "cat-file", "config", "symbolic-ref"} & set(names)
    assert not {"show"} & set(names)  # QA's diff is read in-process too
    assert names.count("commit") == 4
    assert len(spawned) <= 2 + 4 + 5 * len(done.steps), " ".join(names)


def _worktree(repo: Path) -> Path:
    path = repo.parent / "wt"
    git("worktree", "add", "-q", "-b", "side", str(path), cwd=repo)
    return path


def test_head_and_common_dir_are_what_git_says(repo: Path) -> None:
    wt = _worktree(repo)
    for where in (repo, wt, wt / "sub"):
        where.mkdir(exist_ok=True)
        assert local.head(where) == git("rev-parse", "--verify", "HEAD", cwd=where)
        common = Path(git("rev-parse", "--git-common-dir", cwd=where))
        assert local.common_dir(where) == (where / common).resolve()
    git("commit", "-q", "--allow-empty", "-m", "more", cwd=wt)  # an agent's own commit
    git("commit", "-q", "--allow-empty", "-m", "mine", cwd=repo)
    git("checkout", "-q", "--detach", "HEAD~1", cwd=repo)
    assert local.head(wt) == git("rev-parse", "HEAD", cwd=wt) != local.head(repo)
    assert local.head(repo) == git("rev-parse", "HEAD", cwd=repo)


def test_on_branch_is_what_symbolic_ref_says(tmp_path: Path) -> None:
    def symbolic(where: Path) -> bool:
        return runner.run(where, "symbolic-ref", "-q", "HEAD", check=False).returncode == 0

    unborn = tmp_path / "unborn"
    git("init", "-q", str(unborn), cwd=tmp_path)
    repo = make_repo(tmp_path / "r")
    assert local.on_branch(unborn) is symbolic(unborn) is True
    assert local.on_branch(repo) is symbolic(repo) is True
    git("checkout", "-q", "--detach", cwd=repo)
    assert local.on_branch(repo) is symbolic(repo) is False
    assert local.on_branch(tmp_path / "nowhere") is None


def test_where_libgit2_cannot_answer_git_does(tmp_path: Path) -> None:
    unborn = tmp_path / "unborn"
    git("init", "-q", str(unborn), cwd=tmp_path)
    assert local.head(unborn) is None and local.head(tmp_path / "nowhere") is None
    assert local.common_dir(tmp_path / "nowhere") is None
    broken = make_repo(tmp_path / "broken")  # its branch names an object that is not there
    (broken / ".git" / "refs" / "heads" / "main").write_text("12" * 20 + "\n")
    assert local.head(broken) == git("rev-parse", "--verify", "HEAD", cwd=broken) == "12" * 20
    make_repo(tmp_path / "r")
    with pytest.raises(Exception, match="rev-parse"):
        changes.head(unborn)  # git's own error, as before


def test_a_committed_file_reads_as_cat_file_prints_it(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"README.md": "x\n"})
    (repo / "p").mkdir()
    (repo / "p" / "crlf.md").write_bytes(b"a\r\nb\rc\n\xff\xfe bad utf-8\n")
    (repo / "p" / "dir").mkdir()
    (repo / "p" / "dir" / "f").write_text("f\n")
    os.symlink("/etc/passwd", repo / "p" / "link")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "files", cwd=repo)
    commit = git("rev-parse", "HEAD", cwd=repo)
    for name in ("crlf.md", "link", "dir/f"):
        shown = runner.run(repo, "cat-file", "blob", f"{commit}:p/{name}").stdout
        assert local.blob_text(repo, commit, f"p/{name}") == shown
    assert local.blob_text(repo, commit, "p/link") == "/etc/passwd"  # the link, not its target
    assert local.blob_text(repo, commit, "p/dir") is None  # a tree: git refuses it too
    assert local.blob_text(repo, commit, "p/missing") is None
    assert local.blob_text(repo, commit[:12], "p/crlf.md") is None  # only full ids are cached
    assert local.blob_text(repo, "0" * 40, "p/crlf.md") is None


def _author(worktree: Path) -> str:
    return git("log", "-1", "--format=%an <%ae>", cwd=worktree)


@pytest.mark.parametrize(("config", "expected"), [
    ("[user]\n\tname = Pat\n\temail = pat@example.com\n", "Pat <pat@example.com>"),
    ("", "dflow <dflow@localhost>"),  # a fresh CI runner: dflow's identity, as before
    ("[user]\n\tname = Pat\n", "dflow <dflow@localhost>"),
])
def test_the_commit_uses_the_users_identity_else_dflows(
        project: Project, repo: Path, isolated_env: Path, config: str, expected: str) -> None:
    (isolated_env / ".gitconfig").write_text(config)
    wt = _worktree(repo)
    (wt / "new.txt").write_text("hello\n")
    commit = changes.commit(worktrees.located(project, wt), "feat: x", project.settings())
    assert commit == git("rev-parse", "HEAD", cwd=wt)
    assert _author(wt) == expected


def test_with_only_an_email_configured_git_completes_the_identity_as_before(
        project: Project, repo: Path, isolated_env: Path) -> None:
    """`user.email` set, no name: dflow supplied nothing before, and git took the name from
    the system; the folded check must not turn that into dflow's name."""
    (isolated_env / ".gitconfig").write_text("[user]\n\temail = pat@example.com\n")
    wt = _worktree(repo)
    (wt / "new.txt").write_text("hello\n")
    done = runner.run(repo, "var", "GIT_AUTHOR_IDENT", check=False)
    if done.returncode != 0:
        pytest.skip("git cannot make up a name on this system")
    changes.commit(worktrees.located(project, wt), "feat: x", project.settings())
    name, _, email = _author(wt).partition(" <")
    assert email == "pat@example.com>" and name != "dflow"


def _git_show(repo: Path, commit: str) -> str:
    return runner.run(repo, "show", "--stat", "-p", "--format=commit %H%n%s%n", commit).stdout


def test_the_qa_diff_is_git_shows_patch(tmp_path: Path) -> None:
    """A modification, a rename, a new, a deleted, a binary and a now-executable file: the
    header and the patch are git's byte for byte; the diffstat names the same files."""
    repo = make_repo(tmp_path / "r", {"a.txt": "1\n2\n3\n", "d/b.py": "x = 1\n" * 20,
                                      "gone.md": "bye\n", "run.sh": "echo\n"})
    (repo / "a.txt").write_text("1\nTWO\n3\n")
    git("mv", "d/b.py", "d/c.py", cwd=repo)
    (repo / "gone.md").unlink()
    (repo / "bin.dat").write_bytes(b"\0\1\2binary")
    (repo / "run.sh").chmod(0o755)
    (repo / "new.md").write_text("new\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "feat: many\nthings [p/01]", "-m", "Dflow-Job: j1", cwd=repo)
    commit = git("rev-parse", "HEAD", cwd=repo)
    ours, theirs = local.show(repo, commit), _git_show(repo, commit)
    assert ours is not None and worktrees.show_commit(repo, commit) == ours
    our_head, our_stat, our_patch = _parts(ours)
    git_head, git_stat, git_patch = _parts(theirs)
    assert our_head == git_head and our_patch == git_patch
    assert [line.split("|")[0].strip() for line in our_stat] == \
        [line.split("|")[0].strip() for line in git_stat]


def _parts(text: str) -> tuple[str, list[str], str]:
    head, _, rest = text.partition("\n---\n")
    stat, _, patch = rest.partition("\n\n")
    return head, stat.splitlines(), patch


def test_a_merge_or_a_short_id_is_shown_by_git(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    git("checkout", "-q", "-b", "side", cwd=repo)
    git("commit", "-q", "--allow-empty", "-m", "side", cwd=repo)
    git("checkout", "-q", "main", cwd=repo)
    git("commit", "-q", "--allow-empty", "-m", "main", cwd=repo)
    git("merge", "-q", "--no-ff", "-m", "merge", "side", cwd=repo)
    merge = git("rev-parse", "HEAD", cwd=repo)
    assert local.show(repo, merge) is None and local.show(repo, merge[:10]) is None
    assert worktrees.show_commit(repo, merge) == _git_show(repo, merge)


def test_the_qa_diff_never_runs_a_program_the_repository_names(tmp_path: Path) -> None:
    # An agent that controls the worktree's git config (its `.git` file can name a gitdir it
    # built) names a textconv and an external diff; the QA diff that git shows runs neither.
    repo = make_repo(tmp_path / "r")
    marker = tmp_path / "ran"
    program = f"sh -c 'touch {marker}; cat \"$0\"'"
    git("config", "diff.spy.textconv", program, cwd=repo)
    git("config", "diff.external", f"sh -c 'touch {marker}'", cwd=repo)
    (repo / ".gitattributes").write_text("*.txt diff=spy\n")
    git("checkout", "-q", "-b", "side", cwd=repo)
    (repo / "a.txt").write_text("side\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "side", cwd=repo)
    git("checkout", "-q", "main", cwd=repo)
    (repo / "b.txt").write_text("main\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "main", cwd=repo)
    git("merge", "-q", "--no-ff", "-m", "merge", "side", cwd=repo)
    merge = git("rev-parse", "HEAD", cwd=repo)
    side = git("rev-parse", "HEAD^2", cwd=repo)[:10]  # a short id: shown by git, as a merge is
    assert local.show(repo, side) is None
    for commit in (merge, side):
        assert "commit " in worktrees.show_commit(repo, commit)
    assert "+side" in worktrees.show_commit(repo, side)  # the text itself, not the program's
    assert not marker.exists()
