"""Machines for team tests: each a clone of one bare remote in its own folder, with its own
HOME, config dirs and actor, driven through the `dflow` CLI in subprocesses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import git

DFLOW = Path(sys.executable).with_name("dflow")


@dataclass
class Machine:
    """`tmp/<name>/repo` (the clone) and `tmp/<name>/home`; its worktrees go beside the
    clone, so everything of the machine is under `folder`."""

    name: str
    folder: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.folder / "repo"

    def argv(self, *args: str) -> list[str]:
        return [str(DFLOW), *args]

    def dflow(self, *args: str, ok: bool = True, timeout: float = 120) -> \
            subprocess.CompletedProcess[str]:
        done = subprocess.run(self.argv(*args), cwd=self.root, env=self.env, text=True,
                              capture_output=True, timeout=timeout)
        if ok and done.returncode != 0:
            raise AssertionError(f"[{self.name}] dflow {' '.join(args)} exited "
                                 f"{done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def popen(self, *args: str, prefix: list[str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen([*(prefix or []), *self.argv(*args)], cwd=self.root,
                                env=self.env, text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def git(self, *args: str) -> str:
        return git(*args, cwd=self.root)


def machine(tmp: Path, name: str, remote: Path, *, init: bool = True,
            user_config: str = "") -> Machine:
    """A clone of `remote` set up with `dflow init` (adopting the remote's state, if any)."""
    folder = tmp / name
    home = folder / "home"
    home.mkdir(parents=True)
    gitconfig = home / ".gitconfig"
    shutil.copy(os.environ["GIT_CONFIG_GLOBAL"], gitconfig)
    (home / "dflow-config.toml").write_text(user_config)
    env = {**os.environ, "HOME": str(home), "GIT_CONFIG_GLOBAL": str(gitconfig),
           "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_DATA_HOME": str(home / ".local" / "share"),
           "DFLOW_CONFIG_FILE": str(home / "dflow-config.toml"),
           "DFLOW_ACTOR": f"{name}@{name}-host", "CI": "true"}
    git("clone", "-q", remote.as_uri(), str(folder / "repo"), cwd=folder)
    found = Machine(name, folder, env)
    if init:
        found.dflow("init", "--engine", "demo", "--yes")
    return found


def remote_files(remote: Path, ref: str = "main") -> set[str]:
    return set(git("--git-dir", str(remote), "ls-tree", "-r", "--name-only", ref,
                   cwd=remote.parent).splitlines())


def remote_ref(remote: Path, ref: str) -> str | None:
    done = subprocess.run(["git", "--git-dir", str(remote), "rev-parse", "-q", "--verify", ref],
                          capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None
