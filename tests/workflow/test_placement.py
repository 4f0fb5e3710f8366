"""A run's worktree is this clone's own (decision 1501): placed here, rebuilt at the recorded
work with its branch checked out, and a path that is not this clone's worktree of the run's
branch is refused before any agent runs there."""

from __future__ import annotations

from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import RunCancelled, RunCreated, RunPlanned
from deksdenflow.store import Tx
from deksdenflow.sync import work
from deksdenflow.workflow.checkouts import cleaning, placement
from deksdenflow.workflow.lifecycle.runs import create_run
from tests.conftest import git


def _run(project: Project) -> tuple[Path, str]:
    snap = create_run(project, "x", "add a greeting", plan=False)
    return project.root.parent / f"{project.root.name}.worktrees" / snap.run.branch, snap.run.uid


def test_a_missing_worktree_is_made_again_beside_this_clone_on_its_branch(
        project: Project) -> None:
    place, uid = _run(project)
    git("worktree", "remove", str(place), cwd=project.root)
    snap = project.view().run(uid)
    assert snap is not None
    hinted = snap.model_copy(update={"run": snap.run.model_copy(
        update={"worktree": str(project.root)})})  # a hint that names the main checkout
    ready = placement.prepare(project, hinted)
    assert Path(ready.run.worktree) == place
    assert git("symbolic-ref", "HEAD", cwd=place) == f"refs/heads/{snap.run.branch}"
    assert git("symbolic-ref", "HEAD", cwd=project.root) == "refs/heads/main"


@pytest.mark.parametrize("squatter", ["folder", "other-worktree"])
def test_a_path_that_is_not_this_runs_worktree_is_refused(project: Project,
                                                          squatter: str) -> None:
    place, uid = _run(project)
    git("worktree", "remove", str(place), cwd=project.root)
    if squatter == "folder":
        place.mkdir()
        (place / "mine.txt").write_text("a person's files\n")
    else:
        git("worktree", "add", "-q", "-b", "elsewhere", str(place), "main", cwd=project.root)
    snap = project.view().run(uid)
    assert snap is not None
    with pytest.raises(placement.NotThisRunsWorktree, match="is not this clone's worktree"):
        placement.prepare(project, snap)
    if squatter == "folder":
        assert (place / "mine.txt").read_text() == "a person's files\n"
        assert not (place / ".git").exists()


def test_the_main_checkout_is_never_a_runs_worktree(project: Project) -> None:
    place, uid = _run(project)
    git("worktree", "remove", str(place), cwd=project.root)
    git("switch", "-q", "0001-x", cwd=project.root)
    snap = project.view().run(uid)
    assert snap is not None
    with pytest.raises(placement.NotThisRunsWorktree, match="switch .* to another branch"):
        placement.prepare(project, snap)
    assert not place.exists()


def test_a_recorded_branch_that_is_no_run_branch_is_never_worked_on_or_deleted(
        project: Project) -> None:
    """A teammate records a run whose branch is `main` (and cancels it): no job works on it,
    `clean` keeps the branch, and sync publishes nothing of it."""
    git("switch", "-q", "-c", "topic", cwd=project.root)  # main is not checked out here
    main = git("rev-parse", "main", cwd=project.root)

    def hostile(tx: Tx) -> str:
        uid = tx.emit(RunCreated(number=7, name="evil", task="t", branch="main",
                                 base="main")).run
        assert uid is not None
        tx.emit(RunPlanned(commit=main, steps=[]), run=uid)
        tx.emit(RunCancelled(), run=uid)
        return uid

    uid = project.store.transact(hostile)
    snap = project.view().run(uid)
    assert snap is not None and snap.run.tip == main
    with pytest.raises(placement.NotThisRunsWorktree, match="not a run branch"):
        placement.prepare(project, snap)
    report = cleaning.clean(project, cleaning.select(project, [], False, True))
    assert [r.kept for r in report.runs if r.run == snap.run.id][0]
    assert git("rev-parse", "main", cwd=project.root) == main
    assert work.recorded(snap) == []
