"""A step costs two state commits: the claim starts the step, and the commit that closes a
job claims (and starts) the one it calls for. Same events as one commit per fact, fewer
commits (issue 16)."""

from __future__ import annotations

from pathlib import Path

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.events import EventType
from deksdenflow.store import STATE_REF
from tests.conftest import git
from tests.workflow.conftest import settle


def _events_by_commit(repo: Path, since: str) -> list[list[str]]:
    """Per commit since `since` (oldest first): the ids of the event files it added."""
    out = []
    for commit in git("rev-list", "--reverse", f"{since}..{STATE_REF}", cwd=repo).split():
        added = git("diff-tree", "-r", "--no-commit-id", "--name-only", "--diff-filter=A",
                    commit, cwd=repo).split()
        out.append([Path(p).stem for p in added if "/events/" in p])
    return out


def test_a_step_is_two_commits_claim_starts_it_and_a_close_claims_what_follows(
        project: Project, repo: Path, new_run) -> None:  # type: ignore[no-untyped-def]
    new_run()
    before = git("rev-parse", STATE_REF, cwd=repo)
    done = settle(project)
    assert done.run.status.value == "completed" and len(done.steps) == 3
    commits = _events_by_commit(repo, before)
    # The intent, the plan's claim, its close (+ step 1 claimed and started), then per step:
    # the execute's close (+ QA claimed), the QA's close (+ the next step claimed, started).
    assert len(commits) == 3 + 2 * len(done.steps)
    events = {e.id: e for e in project.view().run_events(done.run.uid)}
    where = {eid: n for n, ids in enumerate(commits) for eid in ids}
    for step in (1, 2, 3):
        of = [e for e in events.values() if e.step == step]
        started = [e for e in of if e.type == EventType.STEP_STARTED]
        claims = [e for e in of if e.type == EventType.JOB_CLAIMED]
        assert len(started) == 1 and len(claims) == 2  # the execute's and the QA's
        assert where[started[0].id] == where[min(claims, key=lambda e: e.lamport).id]
        finished = next(e for e in of if e.type == EventType.STEP_FINISHED)
        assert where[finished.id] == where[max(claims, key=lambda e: e.lamport).id]
    # Nothing is lost: every fact of the old one-commit-per-fact history is there, in order.
    kinds = [e.type for e in sorted(events.values(), key=lambda e: (e.lamport, e.id))
             if e.step == 2]
    assert kinds == [EventType.JOB_REQUESTED, EventType.JOB_CLAIMED, EventType.STEP_STARTED,
                     EventType.STEP_FINISHED, EventType.JOB_FINISHED, EventType.JOB_REQUESTED,
                     EventType.JOB_CLAIMED, EventType.STEP_QA_VERDICT, EventType.JOB_FINISHED]
