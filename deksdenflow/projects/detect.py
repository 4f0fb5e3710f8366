"""What `dflow init` and `dflow projects add` detect: the remote's default branch, the CI
provider from the remote's URL, the agent CLIs on PATH (docs/decisions/1102-init-detects.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

from pydantic import BaseModel

from ..ci.forge import CiProvider as CiProvider
from ..ci.forge import ci_provider as ci_provider
from ..git import runner as git
from ..store import open_store

# engine name -> the command it runs; the first one found on PATH is the default engine
ENGINE_COMMANDS = {"codex": "codex", "claude": "claude"}
FALLBACK_ENGINE = "codex"


class Detected(BaseModel):
    """Defaults for every answer of `dflow init`; flags and the wizard start from these."""

    base: str
    remote_url: str = ""
    ci: CiProvider = "none"
    engines: list[str] = []  # engines whose command is on PATH
    engine: str = FALLBACK_ENGINE


def engines_on_path(path: str | None = None) -> list[str]:
    return [name for name, cmd in ENGINE_COMMANDS.items() if shutil.which(cmd, path=path)]



def remote_head(root: Path, remote: str = "origin") -> str | None:
    """The branch the remote's HEAD names (from the clone's refs/remotes/R/HEAD, else by
    asking the remote); None when there is no remote or it cannot be reached."""
    done = git.run(root, "symbolic-ref", "--quiet", f"refs/remotes/{remote}/HEAD", check=False)
    if done.returncode == 0 and done.stdout.strip():
        return done.stdout.strip().removeprefix(f"refs/remotes/{remote}/")
    asked = git.run(root, "ls-remote", "--symref", remote, "HEAD", check=False, timeout=30)
    for line in asked.stdout.splitlines():
        if line.startswith("ref: refs/heads/"):
            return line.split()[1].removeprefix("refs/heads/")
    return None


def detect(root: Path, remote: str = "origin", path: str | None = None) -> Detected:
    store = open_store(root)
    url = store.remote_url(remote)
    base = (remote_head(root, remote) if url else None) or store.head_branch()
    found = engines_on_path(path)
    return Detected(base=base, remote_url=url, ci=ci_provider(url), engines=found,
                    engine=found[0] if found else FALLBACK_ENGINE)
