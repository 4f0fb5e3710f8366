"""A teammate with push access writes an event file by hand (plumbing, not dflow's writer,
which strips what it keeps): its text carries a terminal escape sequence and a right-to-left
override. Every reader that prints it — `dflow events`, `dflow show`, on the fast path and on
Typer's — shows the words and none of the control characters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deksdenflow.store.encoding.layout import STATE_REF, event_path
from deksdenflow.sync import service
from deksdenflow.workflow.lifecycle import runs
from tests.conftest import git
from tests.sync.conftest import Clone

from .test_poisoned_remote import FAKE_ID, _push_entry, _uid, dflow

HOSTILE = "\x1b]0;owned\x07\x1b[2Jhello \u202egnp.exe\u2066 \u200bthere"


EVENTS = {"run.note": {"text": HOSTILE, "level": "warning", "summary": HOSTILE},
          "run.blocked": {"reason": HOSTILE}}  # the reason `status` shows as what it waits for


def _hand_written(repo: Path, uid: str, kind: str) -> bytes:
    """An event of `kind` shaped like the run's own first event, its text hostile."""
    names = git("ls-tree", "-r", "--name-only", STATE_REF, cwd=repo).splitlines()
    first = sorted(n for n in names if f"/{uid}/events/" in n)[0]
    event = json.loads(git("show", f"{STATE_REF}:{first}", cwd=repo))
    event.update(id=FAKE_ID, lamport=event["lamport"] + 50, type=kind, data=EVENTS[kind])
    return json.dumps(event).encode()


@pytest.mark.parametrize("kind", list(EVENTS))
def test_a_hand_written_event_s_control_characters_never_reach_the_terminal(
        clone: Clone, kind: str) -> None:
    a, b = clone("a"), clone("b")
    runs.create_run(b, "x", "add a greeting", plan=False)
    service.sync(b)
    service.sync(a)
    uid = _uid(b.root)
    _push_entry(b.root, event_path(uid, FAKE_ID), _hand_written(b.root, uid, kind))
    synced = dflow(a.root, "sync")
    assert synced.returncode == 0, synced.stderr
    for argv in (["events"], ["events", "--limit", "20"], ["show", "x"], ["status"]):
        for debug in ([], ["--debug"]):  # the fast path, then Typer's
            shown = dflow(a.root, *debug, *argv)
            assert shown.returncode == 0, (argv, shown.stderr)
            out = shown.stdout + shown.stderr
            # status shows no event's text, only that nothing of it leaks
            assert argv == ["status"] or "hello" in out and "there" in out, (argv, debug, out)
            leaked = sorted({c for c in out if c in HOSTILE and not c.isprintable()
                             and c not in "\n\t"} | ({"\u202e", "\u2066", "\u200b"} & set(out)))
            assert leaked == [], (argv, debug, leaked)
