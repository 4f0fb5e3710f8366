"""Which forge a remote is on, from its URL: what `dflow init` proposes for CI and which tool
`dflow pr` opens a pull/merge request with (none: neither GitHub nor GitLab)."""

from __future__ import annotations

import re
from typing import Literal

CiProvider = Literal["none", "github", "gitlab"]


def ci_provider(url: str) -> CiProvider:
    """github.com -> github; gitlab.com or a host named like GitLab -> gitlab; else none."""
    host = _host(url).lower()
    if host == "github.com" or host.endswith(".github.com"):
        return "github"
    if host == "gitlab.com" or "gitlab" in host:
        return "gitlab"
    return "none"


def _host(url: str) -> str:
    match = re.match(r"^[a-z][a-z0-9+.-]*://(?:[^@/]*@)?([^/:]+)", url, re.I)
    if match:
        return match.group(1)
    scp = re.match(r"^(?:[^@/]+@)?([^/:]+):", url)  # git@github.com:owner/repo.git
    return scp.group(1) if scp else ""
