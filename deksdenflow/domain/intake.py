"""Issues become runs: the issue a forge's webhook payload (or `gh`/`glab`) describes.

Pure: reads a GitHub `issues` payload (`issue.number/title/body/html_url`) or a GitLab issue
payload (`object_attributes.iid/title/description/url`) into an `Issue`, or says in one
sentence what the payload lacks. The issue's text is untrusted like every task: the prompts
fence it (workflow/prompts.py UNTRUSTED).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel

from ..errors import UsageError


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

