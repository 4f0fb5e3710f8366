"""Every text of a web page comes from the state ref, which a teammate who can push may have
written by hand: escaped, it cannot inject markup, and its bidi overrides and invisible
format characters are removed, so it cannot show one thing and mean another."""

from __future__ import annotations

from deksdenflow.context.project import Project
from deksdenflow.web import ops, pages
from deksdenflow.workflow.lifecycle import runs

HOSTILE = "fix <b>login</b> \u202egnp.exe\u2066 \u200bnow\x1b[2J"


def test_a_hand_written_task_is_shown_as_plain_text(project: Project) -> None:
    snap = runs.create_run(project, "login", "a task", plan=False)
    found = ops.show_run(project, snap.run.id)
    found = found.model_copy(update={"run": found.run.model_copy(update={"task": HOSTILE})})
    page = pages.run_page(found, patch="")
    assert "fix &lt;b&gt;login&lt;/b&gt; gnp.exe now" in page
    assert not {"\u202e", "\u2066", "\u200b", "\x1b"} & set(page)
    listed = pages.runs_page(runs.StatusReport(runs=[found.run]))
    assert "\u202e" not in listed
