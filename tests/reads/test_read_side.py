"""The read side (deksdenflow/reads, decision 1600) serves what it keeps only for a tip the
store checked and under the settings it was computed with; anything else is read again."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import RunPaused
from deksdenflow.reads import hit, listing
from deksdenflow.store import STATE_REF, cache
from tests.cli.test_reads_fast import answered_fast
from tests.conftest import git
from tests.store.conftest import add_run

DFLOW = str(Path(sys.executable).with_name("dflow"))


def dflow(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run([DFLOW, *args], cwd=cwd, capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "200", **(env or {})})
    assert out.returncode == 0, out.stderr
    return re.sub(r"\d+[smhd] ago", "<AGO>", out.stdout)  # independent of the clock


def test_a_listing_kept_for_a_tip_the_store_has_not_checked_is_not_served(
        project: Project, repo: Path) -> None:
    """A tip moved behind the store's back (a hand `update-ref`) may have a kept listing in
    the cache (planted, or kept when that tip was ours long ago): the hit path must not
    serve it before the store has checked the tip."""
    add_run(project.store, "one")
    real = dflow(repo, "status", "--json")
    common = str(repo / ".git")
    tip = git("rev-parse", STATE_REF, cwd=repo)
    moved = git("commit-tree", f"{tip}^{{tree}}", "-p", tip, "-m", "by hand", cwd=repo)
    git("update-ref", STATE_REF, moved, tip, cwd=repo)
    refs = cache.refs_key(common)
    cache.save(common, hit.LISTING, hit.listing_key(common, moved, refs),
               b'{"runs": "PLANTED"}\n')
    shown = subprocess.run([DFLOW, "status", "--json"], cwd=repo, capture_output=True,
                           text=True)
    assert "PLANTED" not in shown.stdout
    assert shown.returncode != 0 or shown.stdout == real  # refused, or read and checked


def test_show_never_says_why_a_run_waits_from_a_line_kept_under_other_variables(
        project: Project, repo: Path) -> None:
    """`show`'s `waits:` note is the run's line (decision 1551): one kept under the settings
    before a DFLOW_* variable changed is not the line under the settings of now."""
    uid = add_run(project.store, "one")
    project.store.transact(lambda tx: tx.emit(RunPaused(), run=uid))
    dflow(repo, "status")  # the lines are kept under the settings of now
    lines = repo / ".git" / "deksdenflow" / "cache" / listing.LINES
    honest = dflow(repo, "show", "one")
    assert "waits:" in honest
    lines.write_bytes(lines.read_bytes().replace(b"waits: ", b"waits: PLANTED "))
    assert "PLANTED" in dflow(repo, "show", "one")  # the kept line is what show prints...
    env = {"DFLOW_QA_POLICY": "never"}
    assert "PLANTED" not in dflow(repo, "show", "one", env=env)  # ...under its settings only
    assert dflow(repo, "show", "one", env=env) == dflow(repo, "--debug", "show", "one",
                                                        env=env)



def test_the_store_and_the_read_side_share_one_run_index(project: Project, repo: Path) -> None:
    """`find_run` (the controls) and `show` before Typer read the same index: what one kept
    is what the other finds, and a run that moved is read again by both."""
    from deksdenflow.domain.eventlog.payloads import RunRenumbered
    from deksdenflow.store import run_index

    uid = add_run(project.store, "one")
    assert project.store.read().find_run("one").run.uid == uid  # the store keeps the index
    kept = repo / ".git" / "deksdenflow" / "cache" / run_index.NAME
    kept.write_text(kept.read_text().replace('"one"', '"from-the-index"'))
    assert "0001-from-the-index" in dflow(repo, "events", "-n", "1")  # the read side uses it
    project.store.transact(lambda tx: tx.emit(RunRenumbered(number=7), run=uid) and None)
    assert "0007-one" in dflow(repo, "events", "-n", "1")  # the moved run is read again
    assert project.store.read().find_run("7").run.uid == uid


def test_dflow_trust_changes_the_excerpts_readers_show(project: Project, repo: Path) -> None:
    """The settings stamp holds this machine's trust record: settings from origin that name a
    program make a run wait until `dflow trust`, and every reader says so, then stops saying
    so, exactly as the full path does — never from an excerpt kept under the old record."""
    from deksdenflow.context import settings_trust as record
    from deksdenflow.workflow.lifecycle import runs

    project.set_settings({"engines.demo.kind": "command",
                          "engines.demo.options": '{command = "true"}'})
    runs.create_run(project, "x", "add a greeting")
    before = dflow(repo, "status"), dflow(repo, "show", "x")  # kept under the trusting record
    assert "dflow trust" not in before[0] + before[1]
    values = record.trusted_values(project.store.git_dir)
    values.pop("engines.demo.kind")  # as a sync leaves it: this machine never trusted it
    record.write(project.store.git_dir, values, project.store.tip() or "")
    waits = "waits: settings from origin changed engines.demo.kind"
    for argv in (["status"], ["show", "x"], ["status", "--json"]):
        fast = dflow(repo, *argv)
        assert fast == dflow(repo, "--debug", *argv), argv
        assert "dflow trust" in fast, argv
    assert waits in dflow(repo, "show", "x")
    assert answered_fast(repo, "status") and answered_fast(repo, "show", "x")
    dflow(repo, "trust", "--yes")
    after = dflow(repo, "status"), dflow(repo, "show", "x")
    assert after == before


def test_show_finds_the_run_find_run_finds_for_every_spelling(project: Project,
                                                               repo: Path) -> None:
    """One rule says which run a name means (`run_index.may_name`): what the fast `show`
    resolves is what the store's `find_run` resolves, or it leaves the answer to it."""
    from deksdenflow.errors import DflowError
    from deksdenflow.reads import runs

    uids = [add_run(project.store, name) for name in ("one", "two", "1", "0002-two")]
    tip = git("rev-parse", STATE_REF, cwd=repo)
    view = project.store.read()
    index = runs.run_index(str(repo / ".git"), runs.view_at(str(repo / ".git"), tip))
    for ref in ["1", "2", "3", "01", "one", "two", "0001-one", "0002-two", "0004-0002-two",
                "٣", "²", "nope", *uids]:
        try:
            expected: str | None = view.find_run(ref).run.uid
        except (DflowError, ValueError):
            expected = None
        found = runs.find(index, ref)
        assert found is None or found == expected, ref  # never another run than the store's


def test_the_excerpts_after_a_git_fetch_and_a_merge_of_a_teammates_change(
        tmp_path: Path) -> None:
    """A teammate's event comes with a plain `git fetch`; the next read merges it with this
    clone's own change (a two-parent commit no writer here handed an excerpt over for) and
    shows the merged run — fast, and exactly as the full path does."""
    from deksdenflow.domain.eventlog.payloads import RunNote
    from deksdenflow.sync.service import sync
    from tests.cli.test_lazy_cli import loaded_by
    from tests.sync.conftest import clone_of, make_remote

    url = make_remote(tmp_path).as_uri()
    a = clone_of(url, tmp_path / "a")
    uid = add_run(a.store, "one")
    sync(a)
    b = clone_of(url, tmp_path / "b")
    dflow(a.root, "status")  # a keeps its excerpts
    a.store.transact(lambda tx: tx.emit(RunPaused(), run=uid))  # handed over here
    b.store.transact(lambda tx: tx.emit(RunNote(text="from b", level="warning"), run=uid))
    sync(b)
    git("fetch", "-q", "origin", cwd=a.root)
    assert "typer" not in loaded_by(["show", "one"], cwd=a.root)  # merged, then answered fast
    merge = git("rev-list", "--parents", "-n", "1", STATE_REF, cwd=a.root).split()
    assert len(merge) == 3  # the tip is the merge of both clones' changes
    shown = dflow(a.root, "show", "one")
    assert shown == dflow(a.root, "--debug", "show", "one")
    assert "from b" in shown and "paused" in shown
    listing_now = dflow(a.root, "status")
    assert listing_now == dflow(a.root, "--debug", "status") and " paused " in listing_now


def test_the_http_and_mcp_runs_list_renders_the_excerpts_of_now(
        project: Project, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`GET /api/runs` and the MCP `list_runs` tool (web/ops.py) render the runs' excerpts,
    the very objects `status --json` prints — and only under the settings of now."""
    from deksdenflow.web import ops
    from deksdenflow.workflow.lifecycle import runs

    uid = add_run(project.store, "one")
    add_run(project.store, "two")
    project.store.transact(lambda tx: tx.emit(RunPaused(), run=uid))
    assert ops.list_runs(project) == runs.status(project)
    kept = repo / ".git" / "deksdenflow" / "cache" / listing.LINES
    kept.write_bytes(kept.read_bytes().replace(b"do one", b"XX one"))  # same length: intact
    assert [r.task for r in ops.list_runs(project).runs] == ["XX one", "do two"]  # the excerpt
    monkeypatch.setenv("DFLOW_QA_POLICY", "never")  # another stamp: computed again
    assert ops.list_runs(project) == runs.status(project)
