"""Issues become runs (issue 27 part 1): a forge's issue webhook payload (fixtures written from
the documented shapes) fed through `dflow new --from-event`, and `--from-issue` through a
stand-in `gh` at the process boundary."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from deksdenflow.ci import pr
from deksdenflow.context.project import Project
from tests.cli.test_reads_fast import same_both_ways

PAYLOADS = Path(__file__).parent / "payloads"


def _runs(project: Project) -> list:  # type: ignore[type-arg]
    return project.view().runs()


def test_a_labeled_github_issue_becomes_a_run_with_its_body_link_and_closes_line(
    project: Project, repo: Path, cli
) -> None:
    result = cli("new", "--from-event", str(PAYLOADS / "github-issues-labeled.json"),
                 "--no-plan", cwd=repo)
    assert result.exit_code == 0, result.output
    assert "0001-greet-the-user-by-name" in result.output
    [snap] = _runs(project)
    run = snap.run
    assert (run.issue_number, run.issue_url) == (42, "https://github.com/octo-org/hello/issues/42")
    assert run.task.startswith("Greet the user by name\n\nThe greeting should say the user's name.")
    _, body = pr.describe(project, run)
    assert "Closes #42" in body
    shown = same_both_ways(repo, "show", run.id)  # the fast path and Typer's, the same
    assert "issue: https://github.com/octo-org/hello/issues/42\n" in shown


def test_the_same_issue_twice_makes_one_run(project: Project, repo: Path, cli) -> None:
    event = str(PAYLOADS / "github-issues-labeled.json")
    cli("new", "--from-event", event, "--no-plan", cwd=repo)
    tip = project.store.tip()
    again = cli("new", "--from-event", event, "--no-plan", cwd=repo)
    assert again.exit_code == 0
    assert "issue #42 already has run 0001-greet-the-user-by-name" in again.output
    assert project.store.tip() == tip and len(_runs(project)) == 1


def test_a_gitlab_issue_payload_becomes_a_run(project: Project, repo: Path, cli) -> None:
    result = cli("new", "--from-event", str(PAYLOADS / "gitlab-issue-open.json"), "--no-plan",
                 cwd=repo)
    assert result.exit_code == 0, result.output
    [snap] = _runs(project)
    assert snap.run.id == "0001-add-a-farewell"
    assert snap.run.issue_number == 23
    assert "Say goodbye when the program ends." in snap.run.task


@pytest.mark.parametrize(("payload", "says"), [
    ({"action": "opened", "issue": {"number": 7, "title": "x",
                                    "html_url": "https://github.com/o/r/issues/7"}},
     "has no `issue.body`; a github issue payload carries issue.number, issue.title"),
    ({"object_attributes": {"iid": 3, "title": "x", "description": "y"}},
     "has no `object_attributes.url`"),
    ({"pull_request": {"number": 1}}, "has neither `issue` (GitHub) nor `object_attributes`"),
    ([1, 2], "is not a JSON object"),
])
def test_a_payload_without_the_issue_fields_is_refused_in_one_sentence(
    project: Project, repo: Path, cli, tmp_path: Path, payload: object, says: str
) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps(payload))
    tip = project.store.tip()
    result = cli("new", "--from-event", str(event), cwd=repo)
    assert result.exit_code == 2
    assert says in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert project.store.tip() == tip


def test_from_issue_reads_the_issue_through_gh(
    project: Project, repo: Path, cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    record = tmp_path / "gh-args.json"
    doc = {"number": 5, "title": "Fix the typo", "body": "In README.",
           "url": "https://github.com/octo-org/hello/issues/5"}
    gh.write_text(f"#!/bin/sh\nprintf '%s' \"$*\" > {record}\nprintf '%s' '{json.dumps(doc)}'\n")
    gh.chmod(gh.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = cli("new", "--from-issue", "5", "--no-plan", cwd=repo)
    assert result.exit_code == 0, result.output
    assert record.read_text() == "issue view 5 --json number,title,body,url"
    [snap] = _runs(project)
    assert (snap.run.id, snap.run.issue_number) == ("0001-fix-the-typo", 5)
    assert snap.run.task == "Fix the typo\n\nIn README."
