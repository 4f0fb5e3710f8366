"""How CI installs dflow: a pip requirement (`ci.install`) taken from how this dflow was
installed — the VCS URL of PEP 610's `direct_url.json`, or the released version from an index.
A local directory or file is something CI cannot reach: then there is no requirement, and the
caller says so (docs/decisions/1003-ci-install.md)."""

from __future__ import annotations

import json
from importlib import metadata

from pydantic import BaseModel

DIST = "deksdenflow"


class Requirement(BaseModel):
    requirement: str = ""
    why_not: str = ""


def requirement_from(direct_url: dict[str, object] | None, version: str) -> Requirement:
    """The pip requirement for this install, or why there is none. Pure: tests feed it."""
    if direct_url is None:  # installed from an index: the released version
        return Requirement(requirement=f"{DIST}=={version}")
    url = str(direct_url.get("url", ""))
    vcs = direct_url.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs") == "git" and not url.startswith("file:"):
        commit = vcs.get("commit_id") or vcs.get("requested_revision")
        return Requirement(requirement=f"{DIST} @ git+{url}" + (f"@{commit}" if commit else ""))
    if "archive_info" in direct_url and url.startswith(("https://", "http://")):
        return Requirement(requirement=f"{DIST} @ {url}")
    where = url.removeprefix("file://") or "a local path"
    return Requirement(why_not=f"dflow was installed from {where}, which CI cannot reach")


def detect() -> Requirement:
    """What `dflow init --ci` writes into ci.install."""
    try:
        dist = metadata.distribution(DIST)
    except metadata.PackageNotFoundError:
        return Requirement(why_not="dflow is not installed as a package here")
    text = dist.read_text("direct_url.json")
    try:
        direct = json.loads(text) if text else None
    except ValueError:
        direct = None
    return requirement_from(direct if isinstance(direct, dict) else None, dist.version)
