"""Issues become runs: `dflow new --from-event FILE` (a forge's webhook payload, as a CI job
gets it) and `dflow new --from-issue URL|NUMBER` (read through `gh`/`glab`).

The run is named after the issue's title, its task is the title and the body (fenced as
untrusted text in every prompt, like any task), and it records the issue's number and link,
so its PR says `Closes #N`. A second payload for an issue that already has a run (a label
added twice, a redelivered webhook) makes no second run (docs/decisions/1591-issue-intake.md).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from ..context.project import Project
from ..domain.intake import Issue, from_payload
from ..domain.runs.models import RunSnapshot
from ..errors import DflowError, NameClash, UsageError
from ..workflow.lifecycle import runs
from . import pr

TOOL_TIMEOUT_S = 60


def read_event(path: str | Path) -> Issue:
    """The issue of the webhook payload in `path` (GITHUB_EVENT_PATH, TRIGGER_PAYLOAD)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read the event file {path} ({e.__class__.__name__}); pass "
                         "the path of a webhook payload (JSON)") from e
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise UsageError(f"the event file {path} is not JSON; pass a GitHub `issues` or "
                         "GitLab issue webhook payload") from e
    return from_payload(doc, f"the event file {path}")


def read_issue(project: Project, ref: str) -> Issue:
    """The issue `ref` (a number or a URL) through `gh issue view` or `glab issue view`."""
    settings = project.settings()
    if "gitlab" in ref.lower():
        tool = "glab"
    elif ref.startswith("http"):
        tool = "gh"
    else:
        try:
            tool = pr.provider(project, settings.project.remote, settings.ci.provider) or "gh"
        except DflowError:
            tool = "gh"  # no remote to tell by: GitHub's, as `dflow pr` would need one anyway
    argv = (["gh", "issue", "view", ref, "--json", "number,title,body,url"] if tool == "gh"
            else ["glab", "issue", "view", ref, "--output", "json"])
    if shutil.which(tool) is None:
        raise DflowError(f"`{tool}` is not installed; install it, or save the issue's webhook "
                         "payload and use --from-event FILE")
    try:
        done = subprocess.run(argv, cwd=project.root, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=TOOL_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        raise DflowError(f"`{tool} issue view {ref}` took over {TOOL_TIMEOUT_S}s; "
                         "try again") from e
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        raise DflowError(f"`{tool}` could not read issue {ref} "
                         f"({why[-1] if why else 'failed'}); check `{tool} auth status`")
    try:
        doc = json.loads(done.stdout)
    except ValueError as e:
        raise DflowError(f"`{tool} issue view {ref}` printed no JSON") from e
    if tool == "gh" and isinstance(doc, dict):  # gh's names, as the webhook's issue
        doc = {"issue": {**doc, "html_url": doc.get("url")}}
    elif isinstance(doc, dict):
        doc = {"object_attributes": {**doc, "url": doc.get("web_url") or doc.get("url")}}
    return from_payload(doc, f"`{tool} issue view {ref}`")


def existing(project: Project, issue: Issue) -> RunSnapshot | None:
    """The run already made from this issue, if any."""
    for snap in project.view().runs():
        if snap.run.issue_url == issue.url:
            return snap
    return None


def create(project: Project, issue: Issue, name: str | None = None,
           engine: str | None = None, plan: bool = True,
           variant: str | None = None) -> tuple[RunSnapshot, bool]:
    """(the run, whether it is new): a run for the issue, unless it has one already."""
    found = existing(project, issue)
    if found is not None:
        return found, False
    title = name or issue.title
    if not runs.slugify(title):
        title = f"issue-{issue.number}"
    try:
        snap = runs.create_run(project, title, issue.task, engine=engine, plan=plan,
                               variant=variant, issue=issue)
    except NameClash:
        if name:
            raise
        snap = runs.create_run(project, f"{title[:40]} {issue.number}", issue.task,
                               engine=engine, plan=plan, variant=variant, issue=issue)
    return snap, True
