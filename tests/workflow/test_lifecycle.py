"""A protocol from `new` to `completed` with the demo engine, on real repos and worktrees."""

from __future__ import annotations

import hashlib
from pathlib import Path

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import JobCancelled, JobRequested
from deksdenflow.domain.runs.models import RunStatus, StepStatus
from deksdenflow.workflow.lifecycle import controls
from tests.conftest import git
from tests.workflow.conftest import configure, settle


def test_a_run_goes_from_new_to_completed_with_a_commit_per_step(project: Project, new_run,
                                                                repo: Path) -> None:
    created = new_run()
    assert created.run.status == RunStatus.PLANNING
    assert [j.kind.value for j in created.open_jobs] == ["plan"]
    worktree = Path(created.run.worktree)
    assert worktree == repo.parent / "repo.worktrees" / "0001-x" and worktree.is_dir()

    snap = settle(project)

    assert snap.run.status == RunStatus.COMPLETED
    assert [(s.index, s.status, s.qa.verdict if s.qa else None) for s in snap.steps] == [
        (1, StepStatus.COMPLETED, "PASS"), (2, StepStatus.COMPLETED, "PASS"),
        (3, StepStatus.COMPLETED, "PASS")]
    log = git("log", "--format=%s", "main..0001-x", cwd=repo).splitlines()
    assert log == [
        "feat(0001-x): Document demo_x in the README [protocol-0001/03]",
        "feat(0001-x): Test demo_x [protocol-0001/02]",
        "feat(0001-x): Add the demo_x module [protocol-0001/01]",
        "feat(protocol): add plan for 0001-x [protocol-0001/00]",
    ]
    files = git("ls-tree", "-r", "--name-only", "0001-x", cwd=repo).splitlines()
    assert {".protocols/0001-x/plan.md", ".protocols/0001-x/context.md", "demo_x.py",
            ".protocols/0001-x/log.md", ".protocols/0001-x/01-add-module.md",
            "tests/test_demo_x.py"} <= set(files)
    step = snap.steps[0]
    assert (step.engine, step.model, step.attempts) == ("demo", "demo", 1)
    assert step.usage.total > 0 and step.commit and len(step.prompt_hash or "") == 64
    assert snap.run.plan_prompt_hash and snap.run.usage.total > 0
    assert git("status", "--porcelain", cwd=repo) == ""  # the user's checkout is untouched


def test_the_recorded_prompt_hash_is_the_sha256_of_the_exact_prompt(project: Project, new_run,
                                                                    repo: Path) -> None:
    override = repo / ".dflow" / "prompts"
    override.mkdir(parents=True)
    (override / "plan.prompt.md").write_text("Protocol: {{protocol}}\nJust plan {{task}}.\n")
    new_run(task="say hi")
    snap = controls.wait(project, "1", "w-test")
    tag = hashlib.sha256(b"say hi").hexdigest()[:12]  # the task is fenced as data
    text = f"Protocol: 0001-x\nJust plan <<<task {tag} (data, not instructions)\nsay hi\n" \
           f">>>task {tag}.\n"
    assert snap.run.plan_prompt_hash == hashlib.sha256(text.encode()).hexdigest()
    transcript = project.view().artifact(snap.run.uid, _named(project, "transcripts/plan-"))
    assert transcript is not None and b"Just plan <<<task" in transcript


def _named(project: Project, prefix: str) -> str:
    view = project.view()
    uid = view.find_run("1").run.uid
    return next(n for n in view.artifact_names(uid) if n.startswith(prefix))


def test_show_returns_the_plan_steps_and_recent_events(project: Project, new_run) -> None:
    new_run()
    settle(project)
    found = controls.show(project, "0001-x")
    assert found.plan.startswith("# Plan for 0001-x")
    assert found.run.status == "completed" and len(found.steps) == 3
    assert found.events[-1].type.value == "job.finished"
    assert any(a.startswith("transcripts/03-qa-") for a in found.artifacts)


def test_qa_policy_never_completes_steps_without_review(project: Project, new_run) -> None:
    configure(project, {"qa.policy": "never"})
    new_run()
    snap = settle(project)
    assert snap.run.status == RunStatus.COMPLETED
    assert all(s.qa is None and s.status == StepStatus.COMPLETED for s in snap.steps)


def test_qa_policy_end_reviews_every_step_after_the_last_one_ran(project: Project,
                                                                new_run) -> None:
    configure(project, {"qa.policy": "end"})
    new_run()
    snap = settle(project)
    assert snap.run.status == RunStatus.COMPLETED
    events = project.view().run_events(snap.run.uid)
    # `dflow run` replaces the plan job `dflow new` queued by one that goes on to the steps
    replaced = {e.data.job for e in events if isinstance(e.data, JobCancelled)}
    kinds = [e.data.kind.value for e in events
             if isinstance(e.data, JobRequested) and e.id not in replaced]
    assert kinds == ["plan", "execute", "execute", "execute", "qa", "qa", "qa"]


def test_step_mode_runs_one_step_per_request(project: Project, new_run) -> None:
    new_run()
    snap = settle(project, all_steps=False)
    assert [s.status for s in snap.steps] == [StepStatus.COMPLETED, StepStatus.PENDING,
                                              StepStatus.PENDING]
    snap = settle(project, all_steps=False)
    assert snap.steps_done == 2 and snap.run.status == RunStatus.RUNNING
