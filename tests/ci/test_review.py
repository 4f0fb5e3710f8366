"""Review comments go back to the agent (issue 27 part 2, decision 1592): forge review payloads
(fixtures from the documented shapes) through `dflow review report`, and with review.fix = auto
a fix job whose command-engine agent gets every comment with its file and line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import RunPrOpened
from deksdenflow.domain.runs.models import JobKind
from deksdenflow.workflow.lifecycle import runs
from tests.cli.test_reads_fast import same_both_ways
from tests.conftest import git
from tests.workflow.conftest import configure, settle

PAYLOADS = Path(__file__).parent / "payloads"
TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"


def _event(tmp_path: Path, name: str, branch: str) -> str:
    out = tmp_path / name
    out.write_text((PAYLOADS / name).read_text().replace("BRANCH", branch))
    return str(out)


def _ready(project: Project, new_run) -> str:  # type: ignore[no-untyped-def]
    new_run()
    snap = settle(project)
    assert runs.run_line(snap, project.settings()).stage == "ready to land"
    return snap.run.branch


def _fixer(project: Project, tmp_path: Path) -> Path:
    """A command-engine agent that keeps its prompt and changes a file in its worktree."""
    prompt_copy = tmp_path / "fixer-prompt.md"
    script = tmp_path / "fixer.py"
    script.write_text(
        "import pathlib, shutil, sys\n"
        f"shutil.copy(sys.argv[1], {str(prompt_copy)!r})\n"
        "pathlib.Path('greeting.txt').write_text('Hello, NAME\\n')\n"
        "print('1. greeting.txt:2 now says Hello, NAME')\n")
    command = f"{sys.executable} {script} {{prompt_file}}"
    configure(project, {"engines.fixer.kind": '"command"',
                        "engines.fixer.options": "{ command = " + json.dumps(command) + " }",
                        "phases.execute": '"fixer"', "review.fix": '"auto"'})
    return prompt_copy


def _stand_in_gh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`gh` at the process boundary: records its arguments, one line each."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "gh-args.txt"
    gh = bin_dir / "gh"
    gh.write_text(f"#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> {record}; done\n")
    gh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return record


def test_a_changes_requested_review_goes_to_the_agent_and_the_fix_lands_on_the_branch(
    project: Project, new_run, repo: Path, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    branch = _ready(project, new_run)
    prompt = _fixer(project, tmp_path)
    gh = _stand_in_gh(tmp_path, monkeypatch)
    pr_url = "https://github.com/octo-org/hello/pull/8"
    uid = project.view().find_run(branch).run.uid
    project.store.transact(lambda tx: tx.emit(RunPrOpened(url=pr_url, tool="gh"), run=uid))
    one = cli("review", "report", "--event-file",
              _event(tmp_path, "github-pull-request-review-comment.json", branch), cwd=repo)
    assert one.exit_code == 0, one.output
    two = cli("review", "report", "--event-file",
              _event(tmp_path, "github-pull-request-review.json", branch), cwd=repo)
    assert two.exit_code == 0, two.output
    assert "changes requested by reviewer-rita" in two.output and "review fix" in two.output
    snap = project.view().find_run(branch)
    assert runs.run_line(snap, project.settings()).stage != "ready to land"
    assert [j.kind for j in snap.open_jobs] == [JobKind.FIX_REVIEW]
    shown = cli("show", snap.run.id, cwd=repo).output
    assert "run.review_reported" in shown
    assert "review comments waiting for a fix:\n  greeting.txt:2 (reviewer-rita, commented): " \
        "Say 'Hello, NAME' here" in shown
    assert TOKEN not in json.dumps([e.data.model_dump(mode="json")
                                    for e in project.view().run_events(snap.run.uid)])
    head_before = git("rev-parse", branch, cwd=repo).strip()
    after = settle(project, snap.run.id)
    text = prompt.read_text()
    assert "1. greeting.txt:2 (reviewer-rita, commented):" in text
    assert "Say 'Hello, NAME' here" in text and TOKEN not in text
    assert "2. the whole change (reviewer-rita, changes_requested):" in text
    assert "Please greet in the user's language too." in text
    assert "<<<comments" in text  # fenced as untrusted text
    log = git("log", "--format=%s", f"{head_before}..{branch}", cwd=repo)
    assert "review round 1 [dflow fix-review]" in log
    assert git("show", f"{branch}:greeting.txt", cwd=repo).strip() == "Hello, NAME"
    assert runs.run_line(after, project.settings()).stage == "ready to land"
    assert after.run.review_rounds == 1
    qa_after_fix = [e for e in project.view().run_events(after.run.uid)
                    if e.type == "step.qa_verdict" and e.at >= _fixed_at(project, after.run.uid)]
    assert qa_after_fix, "QA did not run after the review fix"
    assert after.run.review_comments == []
    answer = gh.read_text()  # the PR is answered with what the agent did per comment
    assert answer.startswith(f"pr\ncomment\n{pr_url}\n--body\ndflow review round 1: pushed ")
    assert "1. greeting.txt:2 now says Hello, NAME" in answer


def test_without_review_fix_a_changes_requested_review_waits_for_a_person(
    project: Project, new_run, repo: Path, cli, tmp_path: Path
) -> None:
    branch = _ready(project, new_run)
    cli("review", "report", "--event-file",
        _event(tmp_path, "github-pull-request-review.json", branch), cwd=repo)
    snap = project.view().find_run(branch)
    assert not snap.open_jobs
    wait = runs.run_line(snap, project.settings()).waiting
    assert wait is not None and wait.reason == \
        "blocked by review: changes requested by reviewer-rita"
    assert "review.fix auto" in wait.command


def test_after_max_rounds_the_run_waits_for_a_person(
    project: Project, new_run, repo: Path, cli, tmp_path: Path
) -> None:
    branch = _ready(project, new_run)
    _fixer(project, tmp_path)
    configure(project, {"review.max_rounds": 1})
    event = _event(tmp_path, "github-pull-request-review.json", branch)
    cli("review", "report", "--event-file", event, cwd=repo)
    settle(project, "1")
    again = cli("review", "report", "--event-file", event, cwd=repo)
    assert "review fix" not in again.output
    snap = project.view().find_run(branch)
    wait = runs.run_line(snap, project.settings()).waiting
    assert not snap.open_jobs and wait is not None
    assert "1 review fixes used (review.max_rounds)" in wait.reason


def test_a_gitlab_note_joins_the_batch_and_a_foreign_branch_is_a_notice(
    project: Project, new_run, repo: Path, cli, tmp_path: Path
) -> None:
    snap = new_run()
    done = cli("review", "report", "--event-file",
               _event(tmp_path, "gitlab-merge-request-note.json", snap.run.branch), cwd=repo)
    assert done.exit_code == 0, done.output
    [comment] = project.view().find_run(snap.run.branch).run.review_comments
    assert (comment.reviewer, comment.file, comment.line) == ("rita", "greeting.txt", 3)
    shown = same_both_ways(repo, "show", snap.run.id)  # the fast path prints what Typer's does
    assert "  greeting.txt:3 (rita, commented): This should be a constant." in shown
    tip = project.store.tip()
    other = cli("review", "report", "--event-file",
                _event(tmp_path, "gitlab-merge-request-note.json", "someone-else"), cwd=repo)
    assert other.exit_code == 0 and "belongs to no protocol run" in other.output
    assert project.store.tip() == tip


def test_a_payload_that_is_not_a_review_is_one_sentence(
    project: Project, repo: Path, cli, tmp_path: Path
) -> None:
    tip = project.store.tip()
    bad = cli("review", "report", "--event-file", str(PAYLOADS / "github-issues-labeled.json"),
              cwd=repo)
    assert bad.exit_code == 2 and "has no `pull_request.head.ref`" in bad.output
    assert project.store.tip() == tip


def _fixed_at(project: Project, uid: str):  # type: ignore[no-untyped-def]
    return next(e.at for e in project.view().run_events(uid) if e.type == "run.review_addressed")
