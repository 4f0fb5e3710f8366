"""The web console in a real headless Chromium (Debian's `chromium`): the page shows the runs,
its script runs under the page's Content-Security-Policy, and a run another process creates
appears on its own through the event stream.

Chromium is driven over `--remote-debugging-pipe` (the DevTools protocol on fds 3 and 4,
messages ended by NUL), so no WebSocket client or browser-driver package is needed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from deksdenflow.context.project import Project
from deksdenflow.workflow.lifecycle import runs

from .conftest import Served, dflow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    def __init__(self, profile: Path) -> None:
        if CHROMIUM is None:
            pytest.fail("the web console test needs Chromium: apt-get install chromium "
                        "(.ci/run installs it)")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def fds() -> None:  # Chromium reads commands on fd 3 and answers on fd 4 (close_fds
            # would close them after this runs; every other fd is close-on-exec already)
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "--window-size=390,844",
             "about:blank"], preexec_fn=fds, close_fds=False, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next = 0
        self._buffer = b""
        self.session = ""

    def call(self, method: str, session: bool = True, **params: Any) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise AssertionError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_chrome, 65536)
            if not chunk:
                raise AssertionError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\0", 1)
        found: dict[str, Any] = json.loads(line)
        return found

    def open(self, url: str) -> None:
        target = self.call("Target.createTarget", session=False, url=url)["targetId"]
        self.session = self.call("Target.attachToTarget", session=False, targetId=target,
                                 flatten=True)["sessionId"]

    def text(self, selector: str) -> str:
        found = self.call("Runtime.evaluate", returnByValue=True, expression=(
            f"(document.querySelector({json.dumps(selector)}) || {{}}).innerText || ''"))
        return str(found.get("result", {}).get("value", ""))

    def wait_for(self, selector: str, wanted: str, within: float) -> str:
        deadline = time.monotonic() + within
        seen = ""
        while time.monotonic() < deadline:
            seen = self.text(selector)
            if wanted in seen:
                return seen
            time.sleep(0.1)
        raise AssertionError(f"{wanted!r} never appeared in {selector}: {seen!r}")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        for fd in (self._to_chrome, self._from_chrome):
            os.close(fd)


def test_the_page_shows_the_runs_and_a_new_one_appears_live(served: Served, project: Project,
                                                            tmp_path: Path) -> None:
    runs.create_run(project, "first", "the first run", plan=False)
    browser = Browser(tmp_path / "chromium-profile")
    try:
        browser.open(f"{served.base}?token={served.token}")
        assert "0001-first" in browser.wait_for("main", "0001-first", 20)
        # the script ran (under the CSP) and opened the event stream
        browser.wait_for("#live", "following the state ref", 20)

        assert dflow(served.root, "new", "second", "--task", "made elsewhere",
                     "--no-plan").returncode == 0
        started = time.monotonic()
        shown = browser.wait_for("main", "0002-second", 10)
        assert "0001-first" in shown
        assert time.monotonic() - started < 5  # live, not at the next reload
    finally:
        browser.close()
