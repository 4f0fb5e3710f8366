"""Budget alerts: an event and a status line when a threshold of a budget is crossed, the
alert as JSON on `alerts.command`'s stdin (clean env, time limit), once per budget period —
also across two clones of one bare remote after a merge."""

from __future__ import annotations

import json
import os
import shlex
import time
from pathlib import Path

import pytest

from deksdenflow.cli.runs import status_lines
from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import RunBudgetAlert, RunNote
from deksdenflow.domain.runs.models import Usage
from deksdenflow.errors import ConfigError
from deksdenflow.reads import excerpts
from deksdenflow.store import Tx
from deksdenflow.sync import service
from deksdenflow.workflow.lifecycle import runs
from tests.engines.conftest import install_fake
from tests.engines.test_protocol_with_fakes import codex_script
from tests.sync.conftest import Clone
from tests.workflow.conftest import configure, settle


def _lines(path: Path, count: int, wait_s: float = 15.0) -> list[dict]:  # type: ignore[type-arg]
    """The JSON documents the alert command wrote, once there are `count` of them."""
    deadline = time.monotonic() + wait_s
    while True:
        text = path.read_text() if path.exists() else ""
        whole = text[:text.rfind("\n") + 1]  # a line still being written is read next time
        docs = [json.loads(line) for line in whole.splitlines() if line.strip()]
        if len(docs) >= count or time.monotonic() > deadline:
            return docs
        time.sleep(0.05)


def _alerts(project: Project) -> list[dict]:  # type: ignore[type-arg]
    view = project.view()
    return [e.data.model_dump(mode="json") for s in view.runs()
            for e in view.run_events(s.run.uid) if isinstance(e.data, RunBudgetAlert)]


def _command(tmp_path: Path) -> str:
    out, env = tmp_path / "alerts.jsonl", tmp_path / "alert-env.txt"
    # One append per alert: two deliveries at once (two clones' alerts) must not interleave.
    return f"doc=$(cat); printf '%s\\n' \"$doc\" >> {shlex.quote(str(out))}; " \
           f"env > {shlex.quote(str(env))}"


def test_each_threshold_fires_once_with_an_event_a_status_line_and_the_command(
    project: Project, new_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli,
    repo: Path
) -> None:
    codex = install_fake("codex", tmp_path, monkeypatch)
    codex.script(queue=codex_script(3))  # 1,100 tokens a call
    monkeypatch.setenv("DEPLOY_TOKEN", "tok-should-never-reach-the-command")
    configure(project, {"phases.default": '"codex"', "budget.run.max_tokens": 4000,
                        "budget.mode": '"warn"', "alerts.at": "[0.5, 0.8, 1.0]",
                        "alerts.command": json.dumps(_command(tmp_path))})
    new_run()
    snap = settle(project)
    fired = _alerts(project)
    assert [a["threshold"] for a in fired] == [0.5, 0.8, 1.0]  # at 2200, 3300, 4400 tokens
    assert [a["used"] for a in fired] == [2200, 3300, 4400]
    docs = _lines(tmp_path / "alerts.jsonl", 3)
    assert sorted(d["threshold"] for d in docs) == [0.5, 0.8, 1.0]
    assert {d["run"] for d in docs} == {snap.run.uid} and docs[0]["project"] == "repo"
    assert "of its budget of 4000 tokens (budget.run.max_tokens)" in docs[0]["text"]
    env = (tmp_path / "alert-env.txt").read_text()
    assert "DEPLOY_TOKEN" not in env and "DFLOW_" not in env
    shown = " ".join(cli("status", "0001-x", cwd=repo).output.split())
    assert "alert: 100% of a budget: 0001-x used 4400 tokens of its budget of 4000 tokens" \
        in shown
    assert "alert: 80%" not in shown  # the highest per budget
    status = json.loads(cli("status", "--json", cwd=repo).output)["runs"][0]
    assert [a["threshold"] for a in status["alerts"]] == [1.0]


def test_the_command_is_killed_when_its_time_is_up(
    project: Project, new_run, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    configure(project, {"budget.run.max_tokens": 100, "budget.mode": '"warn"',
                        "alerts.at": "[1.0]", "alerts.timeout_s": 0.5,
                        "alerts.command": json.dumps(f"echo $$ > {pid_file}; exec sleep 60")})
    snap = new_run()
    _spend(project, snap.run.uid, 150)
    deadline = time.monotonic() + 15
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline, "the alert command never ran"
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    while _alive(pid):
        assert time.monotonic() < deadline, "the alert command outlived alerts.timeout_s"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _spend(project: Project, uid: str, tokens: int) -> None:
    """Work outside the steps (a fix-CI attempt, say) that reports its tokens."""

    def body(tx: Tx) -> None:
        tx.emit(RunNote(text="fix-CI attempt", usage=Usage(input_tokens=tokens)), run=uid)

    project.store.transact(body)


@pytest.mark.slow
def test_a_month_threshold_fires_once_across_two_clones_after_a_merge(
    clone: Clone, tmp_path: Path
) -> None:
    a = clone("a")
    configure(a, {"budget.month.max_tokens": 20000, "budget.mode": '"warn"',
                  "alerts.at": "[0.5, 0.8, 1.0]",
                  "alerts.command": json.dumps(_command(tmp_path))})
    one = a.store.transact(lambda tx: runs.record_run(tx, "one", "t", base="main")).run.uid
    _spend(a, one, 12000)  # 60%: a fires 0.5
    service.sync(a)
    b = clone("b")
    two = b.store.transact(lambda tx: runs.record_run(tx, "two", "t", base="main")).run.uid
    _spend(b, two, 2000)  # 70%: b has a's 0.5 alert, fires nothing
    assert [x["threshold"] for x in _alerts(b)] == [0.5]
    service.sync(b)
    service.sync(a)
    _spend(a, one, 3000)  # 85% as a sees it: 0.8 fires in a ...
    _spend(b, two, 2000)  # ... and, offline, in b too (80%); merged: 95%
    service.sync(a)
    service.sync(b)
    service.sync(a)
    for project in (a, b):
        assert sorted(x["threshold"] for x in _alerts(project)) == [0.5, 0.8, 0.8]
        listing = [excerpts.of_run_line(line) for line in runs.status(project).runs]
        shown = status_lines.alert_notes(listing)  # what `dflow status` prints under its table
        assert len(shown) == 1 and "alert: 80% of a budget: the project in" in shown[0]
    _spend(a, one, 100)  # 96%: nothing left to fire below 1.0
    _spend(b, two, 100)
    assert sorted(x["threshold"] for x in _alerts(a)) == [0.5, 0.8, 0.8]
    assert sorted(x["threshold"] for x in _alerts(b)) == [0.5, 0.8, 0.8]
    docs = _lines(tmp_path / "alerts.jsonl", 3)
    assert sorted(d["threshold"] for d in docs) == [0.5, 0.8, 0.8]


def test_a_merged_repeat_of_a_run_alert_is_recorded_not_applied(project: Project, new_run) -> None:
    configure(project, {"budget.run.max_tokens": 1000, "budget.mode": '"warn"',
                        "alerts.at": "[0.5]"})
    snap = new_run()
    _spend(project, snap.run.uid, 600)
    alert = _alerts(project)[0]

    def repeat(tx: Tx) -> None:  # what another clone's copy of the same alert does on merge
        tx.emit(RunBudgetAlert.model_validate(alert), run=snap.run.uid, strict=False)

    project.store.transact(repeat)
    after = project.view().run(snap.run.uid)
    assert after is not None and len(after.run.alerts) == 1
    assert any("alert of run:tokens" in r.reason and "already fired" in r.reason
               for r in after.rejected)


def test_a_bad_threshold_is_one_sentence_naming_the_key(project: Project) -> None:
    with pytest.raises(ConfigError, match=r"alerts\.at takes fractions of a budget above 0"):
        configure(project, {"alerts.at": "[0.5, -1]"})
