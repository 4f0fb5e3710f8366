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


# How CI installs dflow: ci.install (set by `dflow init --ci`); DFLOW_INSTALL in the CI
# settings overrides it. Without either the job stops with a sentence saying what to set.
INSTALL = 'pip install "${{DFLOW_INSTALL:-{requirement}}}"'
NO_INSTALL = ('if [ -z "$DFLOW_INSTALL" ]; then echo "set ci.install (dflow config set '
              'ci.install REQUIREMENT) or the CI variable DFLOW_INSTALL"; exit 1; fi; '
              'pip install "$DFLOW_INSTALL"')

# What every GitHub job that runs dflow on the repository's history starts with.
GITHUB_SETUP = """\
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - name: Install dflow
        env:
          DFLOW_INSTALL: ${{ vars.DFLOW_INSTALL }}
        run: """


def github_setup(requirement: str) -> str:
    """The checkout (whole history), Python and dflow's install, as steps of a GitHub job."""
    return f"{GITHUB_SETUP}{install_line(requirement)}\n"


def install_line(requirement: str) -> str:
    if not requirement:
        return NO_INSTALL
    return INSTALL.format(requirement=requirement.replace('"', '\\"'))
