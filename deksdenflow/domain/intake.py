"""Issues become runs: the issue a forge's webhook payload (or `gh`/`glab`) describes.

Pure: reads a GitHub `issues` payload (`issue.number/title/body/html_url`) or a GitLab issue
payload (`object_attributes.iid/title/description/url`) into an `Issue`, or says in one
sentence what the payload lacks. The issue's text is untrusted like every task: the prompts
fence it (workflow/phases/prompts.py UNTRUSTED).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel

from ..errors import UsageError
from .runs.models import ReviewComment


class Issue(BaseModel):
    forge: Literal["github", "gitlab"]
    number: int
    title: str
    body: str
    url: str

    @property
    def task(self) -> str:
        """The run's task: the title, then the body."""
        return f"{self.title}\n\n{self.body}".strip() if self.body.strip() else self.title

    @property
    def closes(self) -> str:
        """The line a PR or MR description carries so that merging it closes the issue."""
        return f"Closes #{self.number}"


def from_payload(doc: Any, source: str = "the payload") -> Issue:
    """The issue of a GitHub `issues` or GitLab issue webhook payload."""
    if not isinstance(doc, Mapping):
        raise UsageError(f"{source} is not a JSON object; pass a GitHub `issues` or GitLab "
                         "issue webhook payload")
    if isinstance(doc.get("object_attributes"), Mapping):
        return _read(doc["object_attributes"], "gitlab", source,
                     ("iid", "title", "description", "url"), "object_attributes")
    if isinstance(doc.get("issue"), Mapping):
        return _read(doc["issue"], "github", source, ("number", "title", "body", "html_url"),
                     "issue")
    raise UsageError(f"{source} has neither `issue` (GitHub) nor `object_attributes` (GitLab); "
                     "pass an issues webhook payload")


def _read(part: Mapping[str, Any], forge: Literal["github", "gitlab"], source: str,
          keys: tuple[str, str, str, str], where: str) -> Issue:
    number, title, body, url = keys
    missing = [k for k in keys if k not in part or (k != body and part[k] in (None, ""))]
    if missing:
        raise UsageError(f"{source} has no `{where}.{missing[0]}`; a {forge} issue payload "
                         f"carries {', '.join(f'{where}.{k}' for k in keys)}")
    raw = part[number]
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).isdigit():
        raise UsageError(f"{source}'s `{where}.{number}` is not an issue number")
    text = part[body] if isinstance(part[body], str) else ""
    return Issue(forge=forge, number=int(raw), title=str(part[title]).strip(), body=text,
                 url=str(part[url]))



class Review(BaseModel):
    """A review, review comment or MR note, with the branch it is for."""

    forge: Literal["github", "gitlab"]
    branch: str
    reviewer: str
    state: str
    comments: list[ReviewComment]


_STATES = {"changes_requested": "changes_requested", "approved": "approved",
           "commented": "commented", "dismissed": "commented"}


def review_from_payload(doc: Any, source: str = "the payload") -> Review:
    """A GitHub `pull_request_review` / `pull_request_review_comment` payload, or a GitLab
    merge request note."""
    if not isinstance(doc, Mapping):
        raise UsageError(f"{source} is not a JSON object; pass a pull_request_review, "
                         "pull_request_review_comment or GitLab note webhook payload")
    if doc.get("object_kind") == "note":
        return _gitlab_note(doc, source)
    pull = doc.get("pull_request")
    branch = pull.get("head", {}).get("ref") if isinstance(pull, Mapping) and isinstance(
        pull.get("head"), Mapping) else None
    if not isinstance(branch, str) or not branch:
        raise UsageError(f"{source} has no `pull_request.head.ref`; pass a pull_request_review "
                         "or pull_request_review_comment payload")
    if isinstance(doc.get("review"), Mapping):
        r = doc["review"]
        state = _STATES.get(str(r.get("state") or "").lower(), "commented")
        who = _login(r.get("user"))
        body = str(r.get("body") or "")
        comments = [ReviewComment(reviewer=who, state=state, body=body,
                                  url=str(r.get("html_url") or ""))] if body.strip() else []
        return Review(forge="github", branch=branch, reviewer=who, state=state,
                      comments=comments)
    if isinstance(doc.get("comment"), Mapping):
        c = doc["comment"]
        who = _login(c.get("user"))
        line = c.get("line") if isinstance(c.get("line"), int) else c.get("original_line")
        comment = ReviewComment(reviewer=who, state="commented", body=str(c.get("body") or ""),
                                file=str(c.get("path") or ""),
                                line=line if isinstance(line, int) else None,
                                url=str(c.get("html_url") or ""))
        return Review(forge="github", branch=branch, reviewer=who, state="commented",
                      comments=[comment])
    raise UsageError(f"{source} has neither `review` nor `comment`; pass a pull_request_review "
                     "or pull_request_review_comment payload")


def _gitlab_note(doc: Mapping[str, Any], source: str) -> Review:
    mr, attrs = doc.get("merge_request"), doc.get("object_attributes")
    if not isinstance(mr, Mapping) or not isinstance(attrs, Mapping) or not mr.get(
            "source_branch"):
        raise UsageError(f"{source} is a note without `merge_request.source_branch`; only "
                         "merge request notes go back to a run")
    user: Mapping[str, Any] = doc["user"] if isinstance(doc.get("user"), Mapping) else {}
    who = str(user.get("username") or user.get("name") or "")
    pos: Mapping[str, Any] = (attrs["position"] if isinstance(attrs.get("position"), Mapping)
                              else {})
    line = pos.get("new_line")
    comment = ReviewComment(reviewer=who, state="commented", body=str(attrs.get("note") or ""),
                            file=str(pos.get("new_path") or ""),
                            line=line if isinstance(line, int) else None,
                            url=str(attrs.get("url") or ""))
    return Review(forge="gitlab", branch=str(mr["source_branch"]), reviewer=who,
                  state="commented", comments=[comment])


def _login(user: Any) -> str:
    return str(user.get("login") or "") if isinstance(user, Mapping) else ""
