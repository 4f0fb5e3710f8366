"""`dflow status [--json]` answered before Typer loads: same text, only changed runs parsed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import RunPaused
from tests.cli.test_lazy_cli import heavy_in, loaded_by
from tests.store.conftest import add_run

DFLOW = str(Path(sys.executable).with_name("dflow"))


def _dflow(cwd: Path, *args: str) -> str:
    """The output, with `4s ago` (the last column) made independent of the clock."""
    out = subprocess.run([DFLOW, *args], cwd=cwd, capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "120"})
    assert out.returncode == 0, out.stderr
    return "\n".join(re.sub(r"\d+[smh] ago\s*$", "<AGO>", line)
                     for line in out.stdout.split("\n"))


def test_the_fast_listing_is_what_the_command_prints(project: Project, repo: Path) -> None:
    uids = [add_run(project.store, name) for name in ("one", "twö", "three")]
    project.store.transact(lambda tx: tx.emit(RunPaused(), run=uids[1]))
    for args in (["status"], ["status", "--json"]):
        fast = _dflow(repo, *args)
        assert fast == _dflow(repo, "--debug", *args)  # --debug: through Typer
        assert fast == _dflow(repo, *args)  # from the per-run cache this time
    assert re.search(r"^ 0\d+-\S+ +paused ", _dflow(repo, "status"), re.M)


def test_after_a_move_only_the_changed_run_is_parsed(project: Project, repo: Path) -> None:
    first, _ = add_run(project.store, "one"), add_run(project.store, "two")
    _dflow(repo, "status")  # fills the per-run cache
    modules = loaded_by(["status"], cwd=repo)
    assert "typer" not in modules and "pydantic" not in modules  # nothing changed: no model
    project.store.transact(lambda tx: tx.emit(RunPaused(), run=first))
    modules = loaded_by(["status"], cwd=repo)
    assert "typer" not in modules and heavy_in(modules) == []
    assert "pygit2" not in modules  # objects read by store/plumbing/objects.py (decision 1303)
    assert re.search(r"^ 0\d+-\S+ +paused ", _dflow(repo, "status"), re.M)


def test_an_object_store_the_reader_does_not_know_goes_through_the_command(
        project: Project, repo: Path) -> None:
    first, _ = add_run(project.store, "one"), add_run(project.store, "two")
    _dflow(repo, "status")
    project.store.transact(lambda tx: tx.emit(RunPaused(), run=first))
    alternates = repo / ".git" / "objects" / "info" / "alternates"
    alternates.parent.mkdir(exist_ok=True)
    alternates.write_text("")  # borrowed objects: the pure-Python reader gives up
    modules = loaded_by(["status"], cwd=repo)
    assert "typer" in modules  # one object reader per job: libgit2's is the command's (1603)
    assert _dflow(repo, "status") == _dflow(repo, "--debug", "status")
    assert re.search(r"^ 0\d+-\S+ +paused ", _dflow(repo, "status"), re.M)


def test_a_tip_the_store_has_not_verified_goes_through_the_command(project: Project,
                                                                   repo: Path) -> None:
    add_run(project.store, "one")
    (repo / ".git" / "deksdenflow" / "trusted-tip").unlink()
    modules = loaded_by(["status"], cwd=repo)
    assert "typer" in modules  # Store.read verifies the tip before anything is shown
    assert "0001-one" in _dflow(repo, "status")


def _in_terminal(cwd: Path, *args: str, env: dict[str, str]) -> bytes:
    """What `dflow ARGS` writes to a real terminal (a pseudo-terminal)."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([DFLOW, *args], cwd=cwd, stdout=slave, stderr=subprocess.PIPE,
                            env={**os.environ, "COLUMNS": "120", **env})
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait() == 0, proc.stderr.read() if proc.stderr else ""
    return re.sub(rb"\d+[smh] ago", b"<AGO>", out)


def test_in_a_terminal_the_plain_console_prints_what_rich_prints(project: Project,
                                                                 repo: Path) -> None:
    uids = [add_run(project.store, name) for name in ("one", "two")]
    project.store.transact(lambda tx: tx.emit(RunPaused(), run=uids[1]))
    for term in ({"TERM": "xterm-256color"}, {"TERM": "xterm", "NO_COLOR": "1"}):
        plain = _in_terminal(repo, "status", env=term)
        assert b"\x1b[" in plain and b"paused" in plain
        # FORCE_COLOR: the same decisions for a terminal, but only Rich is trusted with it
        assert plain == _in_terminal(repo, "status", env={**term, "FORCE_COLOR": "1"})
