"""`dflow status --json` through the tip-keyed cache: same bytes as uncached, never stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import RunPaused, RunResumed
from deksdenflow.reads import hit, listing
from deksdenflow.store import STATE_REF, Store, cache
from deksdenflow.workflow.lifecycle import runs
from tests.conftest import git
from tests.store.conftest import add_run

DFLOW = str(Path(sys.executable).with_name("dflow"))


def _status(cwd: Path) -> str:
    out = subprocess.run([DFLOW, "status", "--json"], cwd=cwd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _uncached(project: Project) -> str:
    report = runs.status(project)
    return json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def _cache_file(repo: Path, name: str = hit.LISTING) -> Path:
    return repo / ".git" / "deksdenflow" / "cache" / name


def _note(store: Store, uid: str) -> None:
    store.transact(lambda tx: tx.emit(RunPaused(), run=uid))


def test_a_hit_prints_exactly_what_a_fresh_computation_prints(project: Project,
                                                              repo: Path) -> None:
    first, second = add_run(project.store, "one"), add_run(project.store, "twö")
    _note(project.store, first)
    miss = _status(repo)
    assert _cache_file(repo).exists()
    assert _status(repo) == miss == _uncached(project)
    assert [r["name"] for r in json.loads(miss)["runs"]] == ["one", "twö"]
    assert second in miss


def test_the_listing_follows_the_ref_wherever_it_moves(project: Project, repo: Path) -> None:
    uid = add_run(project.store, "one")
    before = git("rev-parse", STATE_REF, cwd=repo)
    _status(repo)
    _note(project.store, uid)  # another process moves the tip
    assert json.loads(_status(repo))["runs"][0]["paused"] is True
    after = git("rev-parse", STATE_REF, cwd=repo)
    git("update-ref", STATE_REF, before, cwd=repo)  # plain git moves it back: events lost
    out = subprocess.run([DFLOW, "status", "--json"], cwd=repo, capture_output=True, text=True)
    assert out.returncode == 1 and "does not descend" in out.stderr
    assert "does not descend" in json.loads(out.stdout)["error"]["message"]  # --json: on stdout
    git("update-ref", STATE_REF, after, cwd=repo)
    git("pack-refs", "--all", cwd=repo)  # the ref now lives only in packed-refs
    assert not (repo / ".git" / STATE_REF).exists()
    assert cache.read_tip(str(repo / ".git")) == after
    project.store.transact(lambda tx: tx.emit(RunResumed(), run=uid))
    assert json.loads(_status(repo))["runs"][0]["paused"] is False
    assert _status(repo) == _uncached(project)


def test_a_damaged_cache_is_ignored_and_rebuilt(project: Project, repo: Path) -> None:
    add_run(project.store, "one")
    good = _status(repo)
    _cache_file(repo).write_bytes(b"garbage")
    _cache_file(repo, listing.LINES).write_bytes(_cache_file(repo, listing.LINES)
                                                       .read_bytes()[:-20])
    assert _status(repo) == good
    assert _status(repo) == good


def test_only_runs_whose_tree_changed_are_rendered_again(project: Project, repo: Path) -> None:
    """Prove the incremental rebuild: an entry planted for an unchanged run is reused."""
    add_run(project.store, "kept")
    changed = add_run(project.store, "changed")
    listing.json_text(project)
    per_run = _cache_file(repo, listing.LINES)
    # Same length, so the record's offsets still hold.
    per_run.write_bytes(per_run.read_bytes().replace(b'"task": "do kept"', b'"task": "planted"'))
    _note(project.store, changed)
    listed = {r["name"]: r for r in json.loads(listing.json_text(project))["runs"]}
    assert listed["kept"]["task"] == "planted"
    assert listed["changed"]["paused"] is True


def test_a_linked_worktree_reads_the_shared_cache(project: Project, repo: Path,
                                                  tmp_path: Path) -> None:
    add_run(project.store, "one")
    linked = tmp_path / "linked"
    git("worktree", "add", "-q", "-b", "side", str(linked), cwd=repo)
    assert cache.common_dir_of(str(linked)) == str((repo / ".git").resolve())
    assert _status(linked) == _status(repo) == _uncached(project)


@pytest.mark.parametrize("env", ["GIT_DIR", "GIT_CEILING_DIRECTORIES"])
def test_git_discovery_variables_leave_the_cache_alone(env: str, repo: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env, str(repo))
    assert cache.common_dir_of(str(repo)) is None


def test_any_moved_branch_or_tracking_ref_bypasses_the_cache(project: Project,
                                                             repo: Path) -> None:
    """The implicit sync around `status` merges fetched state and records merged branches;
    a hit is only allowed when no ref it looks at has moved."""
    add_run(project.store, "one")
    real = _status(repo)
    listing = _cache_file(repo)
    header, _, _ = listing.read_bytes().partition(b"\n")
    listing.write_bytes(header + b"\nplanted\n")
    assert _status(repo) == "planted\n"  # a hit serves the stored bytes
    tip = git("rev-parse", STATE_REF, cwd=repo)
    git("update-ref", "refs/deksdenflow/remotes/origin/state", tip, cwd=repo)
    assert _status(repo) == real
    listing.write_bytes(listing.read_bytes().partition(b"\n")[0] + b"\nplanted\n")
    git("branch", "feature", cwd=repo)
    assert _status(repo) == real


def test_a_settings_change_outside_the_ref_bypasses_the_cache(
        project: Project, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A line says why a run waits with the effective settings: a DFLOW_* variable or the
    user config changes them without moving the tip, so neither may be answered from a
    listing stored under the old ones."""
    add_run(project.store, "one")
    _status(repo)
    listing = _cache_file(repo)

    def plant() -> None:
        listing.write_bytes(listing.read_bytes().partition(b"\n")[0] + b"\nplanted\n")

    plant()
    assert _status(repo) == "planted\n"  # a hit serves the stored bytes
    monkeypatch.setenv("DFLOW_QA_POLICY", "never")
    assert _status(repo) == _uncached(project) != "planted\n"
    plant()
    assert _status(repo) == "planted\n"
    Path(os.environ["DFLOW_CONFIG_FILE"]).write_text('[loop]\nmode = "step"\n')
    assert _status(repo) == _uncached(project) != "planted\n"
