"""The write path's own costs: what it parses once, what it writes per commit."""

from __future__ import annotations

from deksdenflow.domain.events import EventType
from deksdenflow.store import Store, Tx
from tests.store.conftest import add_run


def test_settings_are_parsed_once_per_project_toml_version_and_follow_an_edit(
        store: Store) -> None:
    uid = add_run(store, steps=0)
    first = store.read().settings()
    store.transact(lambda tx: tx.emit(EventType.RUN_NOTE, run=uid, data={"n": 1}) and None)
    assert store.read().settings() is first  # same project.toml blob: not parsed again
    text = store.read().project_text().replace("max_bytes = 262144", "max_bytes = 4096")
    if text == store.read().project_text():
        text += "\n[artifacts]\nmax_bytes = 4096\n"

    def edit(tx: Tx) -> None:
        tx.set_project_text(text)

    store.transact(edit)
    changed = store.read().settings()
    assert changed is not first and changed.artifacts.max_bytes == 4096
