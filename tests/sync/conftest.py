"""Clones of one bare remote (file:// or a real `git daemon` on 127.0.0.1)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.sync import setup
from deksdenflow.wiring import Wiring, open_project
from tests.conftest import git

Clone = Callable[[str], Project]


def make_remote(root: Path, name: str = "remote.git") -> Path:
    """A bare remote whose main branch has one commit."""
    bare = root / name
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=root)
    seed = root / "seed"
    git("init", "-q", "-b", "main", str(seed), cwd=root)
    (seed / "README.md").write_text("# demo\n")
    git("add", "-A", cwd=seed)
    git("commit", "-q", "-m", "initial", cwd=seed)
    git("push", "-q", str(bare), "main", cwd=seed)
    return bare


def clone_of(url: str, path: Path, init: bool = True) -> Project:
    git("clone", "-q", url, str(path), cwd=path.parent)
    if init:
        project, _ = setup.init(Wiring(), path, engine="demo", trust=True)  # `init --yes`
        return project
    return open_project(path)


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    return make_remote(tmp_path)


@pytest.fixture
def clone(tmp_path: Path, remote: Path) -> Clone:
    """`clone("a")`: a dflow-initialized clone of the remote in tmp_path/a."""

    def make(name: str) -> Project:
        return clone_of(remote.as_uri(), tmp_path / name)

    return make


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[str]:
    """A real `git daemon` on 127.0.0.1 serving tmp_path/served; yields its base URL."""
    served = tmp_path / "served"
    served.mkdir()
    make_remote(served)
    port = free_port()
    proc = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack",
         f"--base-path={served}", "--listen=127.0.0.1", f"--port={port}", str(served)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield f"git://127.0.0.1:{port}/remote.git"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def tree_of(project: Project) -> str:
    tip = project.store.tip()
    assert tip is not None
    return str(project.store.repo.get(tip).tree.id)
