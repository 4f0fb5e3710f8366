"""A person is told (issue 27 part 3, decision 1590): each notice a run's state carries goes to
`notify.command` (JSON on stdin, clean environment) and to `notify.webhook_url` (a real HTTP
server on loopback), once per state — also when the state arrived from another clone."""

from __future__ import annotations

import json
import shlex
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import RunNote
from deksdenflow.errors import ConfigError
from deksdenflow.sync import service
from deksdenflow.workflow.lifecycle import controls, runs
from deksdenflow.workflow.spend import notify
from tests.sync.conftest import Clone
from tests.workflow.conftest import configure, settle
from tests.workflow.test_alerts import _lines

KEYS = {"project", "run", "step", "event", "stage", "reason", "command"}


def _command(out: Path, env_file: Path | None = None) -> str:
    line = f"doc=$(cat); printf '%s\\n' \"$doc\" >> {shlex.quote(str(out))}"
    return line + (f"; env > {shlex.quote(str(env_file))}" if env_file else "")


def _note(project: Project, uid: str) -> None:
    project.store.transact(lambda tx: tx.emit(RunNote(text="a note"), run=uid))


def test_a_run_ready_to_land_is_told_once_with_every_key_and_a_clean_environment(
    project: Project, new_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, env_file = tmp_path / "notices.jsonl", tmp_path / "env.txt"
    monkeypatch.setenv("DEPLOY_TOKEN", "tok-never-for-the-notify-command")
    configure(project, {"notify.command": json.dumps(_command(out, env_file))})
    new_run()
    snap = settle(project)
    assert runs.run_line(snap, project.settings()).stage == "ready to land"
    _note(project, snap.run.uid)  # another commit on the run: the same state, not told again
    _note(project, snap.run.uid)
    time.sleep(0.5)
    docs = _lines(out, 1)
    assert [d["event"] for d in docs] == ["ready"], docs
    doc = docs[0]
    assert doc.keys() >= KEYS
    assert (doc["project"], doc["run"], doc["stage"], doc["command"]) == (
        "repo", "0001-x", "ready to land", "dflow land 0001-x")
    assert "0001-x is ready to land" in doc["text"]
    env = env_file.read_text()
    assert "DEPLOY_TOKEN" not in env and "DFLOW_" not in env


def test_only_the_events_in_notify_on_are_told(
    project: Project, new_run, tmp_path: Path
) -> None:
    out = tmp_path / "notices.jsonl"
    configure(project, {"notify.command": json.dumps(_command(out)),
                        "notify.on": '["failed"]'})
    new_run()
    settle(project)
    time.sleep(0.5)
    assert not out.exists()


def test_a_bad_event_name_is_one_sentence_naming_the_key(project: Project) -> None:
    with pytest.raises(ConfigError, match=r"notify\.on takes ready, waiting, failed"):
        configure(project, {"notify.on": '["readdy"]'})


class _Hook(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
        size = int(self.headers.get("content-length") or 0)
        type(self).bodies.append(self.rfile.read(size))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[bytes]]]:
    bodies: list[bytes] = []
    handler = type("Hook", (_Hook,), {"bodies": bodies})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", bodies
    finally:
        server.shutdown()
        server.server_close()


def test_the_webhook_gets_each_notice_as_json_with_a_chat_line(
    project: Project, new_run, webhook: tuple[str, list[bytes]]
) -> None:
    url, bodies = webhook
    configure(project, {"notify.webhook_url": json.dumps(url)})
    new_run()
    settle(project)
    deadline = time.monotonic() + 15
    while not bodies and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(bodies) == 1
    doc = json.loads(bodies[0])
    assert doc.keys() >= KEYS and doc["event"] == "ready"
    assert doc["text"].startswith("repo 0001-x is ready to land")  # what a chat shows


def test_a_state_from_another_clone_is_told_once_and_an_untrusted_command_never(
    clone: Clone, tmp_path: Path
) -> None:
    out = tmp_path / "notices.jsonl"
    a = clone("a")
    b = clone("b")  # b cloned before the command was set: it is not trusted there
    configure(a, {"notify.command": json.dumps(_command(out))})
    service.sync(a)
    service.sync(b)
    assert "notify.command" in b.settings().untrusted()
    uid = runs.create_run(b, "two", "add a greeting").run.uid
    settle(b, uid)
    assert runs.run_line(b.view().find_run(uid), b.settings()).stage == "ready to land"
    service.sync(b)
    time.sleep(0.5)
    assert not out.exists()  # b never ran a's command
    service.sync(a)  # the ready run arrives in a: told there, by the sync itself
    assert [(d["event"], d["run"]) for d in _lines(out, 1)] == [("ready", "0001-two")]
    service.sync(a)
    _note(a, uid)
    c = clone("c")  # a fresh clone (a CI checkout): what it adopts was told where it happened
    _note(c, uid)
    time.sleep(0.5)
    assert len(_lines(out, 1)) == 1


def test_a_run_waiting_by_its_drivers_choice_is_not_told_and_its_cancel_is(
    project: Project, new_run, tmp_path: Path
) -> None:
    out = tmp_path / "notices.jsonl"
    configure(project, {"notify.command": json.dumps(_command(out)),
                        "notify.on": '["waiting", "cancelled"]'})
    snap = new_run()  # hands-off: waits "not planned yet (hands-off)", which nobody needs told
    notify.tell(project)
    controls.cancel(project, snap.run.id)
    notify.tell(project)  # a scan of every run tells nothing new
    docs = _lines(out, 1)
    time.sleep(0.3)
    assert [d["event"] for d in _lines(out, 1)] == ["cancelled"], docs
