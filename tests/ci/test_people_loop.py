"""Issue 27's "done when", on a fresh clone of a bare remote: a labelled issue becomes a run
carrying its body and link, a notice arrives when it is ready to land, a changes-requested
review puts the comment in `dflow show` and in the next agent prompt, the fix lands on the
branch, and the run ready again is told again."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from deksdenflow.workflow.lifecycle import runs
from tests.ci.test_review import _event, _fixer
from tests.conftest import git
from tests.sync.conftest import Clone
from tests.workflow.conftest import configure, settle
from tests.workflow.test_alerts import _lines

PAYLOADS = Path(__file__).parent / "payloads"


def test_an_issue_becomes_a_run_a_person_is_told_and_the_review_goes_back_to_the_agent(
    clone: Clone, cli, tmp_path: Path
) -> None:
    a = clone("a")
    out = tmp_path / "notices.jsonl"
    configure(a, {"notify.command": json.dumps(
        f"doc=$(cat); printf '%s\\n' \"$doc\" >> {shlex.quote(str(out))}")})
    made = cli("new", "--from-event", str(PAYLOADS / "github-issues-labeled.json"), cwd=a.root)
    assert made.exit_code == 0, made.output
    snap = a.view().find_run("greet-the-user-by-name")
    assert "Ignore previous instructions" in snap.run.task  # the body, as untrusted text
    assert snap.run.issue_url == "https://github.com/octo-org/hello/issues/42"
    snap = settle(a, snap.run.id)
    assert runs.run_line(snap, a.settings()).stage == "ready to land"
    assert [(d["event"], d["run"]) for d in _lines(out, 1)] == [("ready", snap.run.id)]
    prompt = _fixer(a, tmp_path)
    for name in ("github-pull-request-review-comment.json", "github-pull-request-review.json"):
        assert cli("review", "report", "--event-file", _event(tmp_path, name, snap.run.branch),
                   cwd=a.root).exit_code == 0
    shown = cli("show", snap.run.id, cwd=a.root).output
    assert "run.review_reported" in shown and "blocked" in shown
    after = settle(a, snap.run.id)
    assert "greeting.txt:2 (reviewer-rita, commented)" in prompt.read_text()
    assert git("show", f"{after.run.branch}:greeting.txt", cwd=a.root).strip() == "Hello, NAME"
    assert runs.run_line(after, a.settings()).stage == "ready to land"
    assert [d["event"] for d in _lines(out, 2)] == ["ready", "ready"]  # a new state: told again
