"""A fast-forward to a teammate's state validates what it brings once (decision 1613): the
check before it is taken is the check it is published with — a hostile or newer state is
still refused, and nothing of it becomes ours."""

from __future__ import annotations

import json

import pytest

from deksdenflow.domain.eventlog.payloads import RunNote
from deksdenflow.errors import NewerSchema
from deksdenflow.store.encoding.layout import META_FILE, STATE_REF
from deksdenflow.store.sharing import trust
from deksdenflow.sync import service
from deksdenflow.workflow.lifecycle import runs
from tests.conftest import git
from tests.security.test_poisoned_remote import _push_entry
from tests.sync.conftest import Clone


def test_a_fast_forward_validates_the_teammates_files_once(
        clone: Clone, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = clone("a"), clone("b")
    snap = runs.create_run(b, "x", "t", plan=False)
    service.sync(b)
    service.sync(a)
    b.store.transact(lambda tx: tx.emit(RunNote(text="theirs"), run=snap.run.uid))
    service.sync(b)
    calls: list[str] = []
    real = trust.validate_tree

    def counted(*args: object) -> None:
        calls.append("validate")
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(trust, "validate_tree", counted)
    report = service.sync(a)
    assert report.outcome == "fast-forward"
    assert calls == ["validate"]
    assert git("rev-parse", STATE_REF, cwd=a.root) == git("rev-parse", STATE_REF, cwd=b.root)


def test_a_fast_forward_to_a_newer_schema_is_refused_and_takes_nothing(clone: Clone) -> None:
    a, b = clone("a"), clone("b")
    runs.create_run(b, "x", "t", plan=False)
    service.sync(b)
    service.sync(a)
    good = git("rev-parse", STATE_REF, cwd=a.root)
    _push_entry(b.root, META_FILE, json.dumps({"schema_version": 999, "lamport": 99}).encode())
    with pytest.raises(NewerSchema):
        service.sync(a)
    assert git("rev-parse", STATE_REF, cwd=a.root) == good
