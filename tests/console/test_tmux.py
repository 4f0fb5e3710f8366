"""`dflow console` for real: a terminal (tmux) runs the installed command; we read the pane."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from deksdenflow.workflow.lifecycle import runs

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/run"),
]

DFLOW = str(Path(sys.executable).with_name("dflow"))


class Pane:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                             timeout=30)
        return out.stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "console", *keys)

    def text(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "console")

    def wait_for(self, check: Callable[[str], bool], seconds: float = 30.0) -> str:
        deadline = time.monotonic() + seconds
        while True:
            screen = self.text()
            if check(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"the pane never showed what we waited for:\n{screen}")
            time.sleep(0.1)


def test_a_person_sees_the_runs_opens_one_and_sees_a_change_from_another_terminal(
    project, repo: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    runs.create_run(project, "add-login", "Add a login page", plan=False)
    socket = f"dflow-test-{os.getpid()}-{tmp_path.name}"
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "NO_COLOR", "COLUMNS", "LINES")}
    subprocess.run(
        ["tmux", "-L", socket, "-f", os.devnull, "new-session", "-d", "-s", "console",
         "-x", "80", "-y", "24", "-c", str(repo), f"{DFLOW} console; sleep 30"],
        check=True, env={**env, "TERM": "xterm-256color"}, timeout=30,
    )
    pane = Pane(socket)
    try:
        screen = pane.wait_for(lambda s: "0001-add-login" in s and "q Quit" in s)
        assert "waiting" in screen
        assert pane.tmux("display", "-p", "-t", "console", "#{window_width}x#{window_height}"
                         ).strip() == "80x24"
        subprocess.run([DFLOW, "new", "from-elsewhere", "--task", "typed in another terminal",
                        "--no-plan"], cwd=repo, check=True, capture_output=True, timeout=60)
        pane.wait_for(lambda s: "0002-from-elsewhere" in s and "2 runs" in s)
        pane.keys("Enter")
        screen = pane.wait_for(lambda s: "Steps [1]" in s)
        assert "Add a login page" in screen
        pane.keys("?")
        pane.wait_for(lambda s: "approve the step" in s)
        pane.keys("Escape", "Escape", "q")
        pane.wait_for(lambda s: "0001-add-login" not in s)
    finally:
        pane.tmux("kill-server")
