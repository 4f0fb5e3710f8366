"""`dflow status --json`'s fast miss keeps the listing it computed under the tip it computed it
at, never the ref read again: a worker may commit while the listing is made."""

from __future__ import annotations

import pytest

from deksdenflow.context.project import Project
from deksdenflow.reads import hit, listing
from deksdenflow.store import cache
from tests.store.conftest import add_run


def test_a_listing_is_never_kept_under_a_tip_it_was_not_computed_at(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    store = project.store
    add_run(store, "first", steps=0)
    project.view()
    common = str(store.git_dir)
    real = listing.lines
    moved = []

    def lines_then_a_worker_commits(*args, **kwargs):  # type: ignore[no-untyped-def]
        found = real(*args, **kwargs)
        if not moved:  # a worker's transaction lands while the listing is being rendered
            moved.append(add_run(store, "second", steps=0))
        return found

    monkeypatch.setattr(listing, "lines", lines_then_a_worker_commits)
    text = listing.json_at_tip(common, cache.refs_key(common))
    assert text is not None and "second" not in text
    monkeypatch.setattr(listing, "lines", real)
    # the next `dflow status --json`, before anything else moves: the hit path
    kept = hit.cached_json(str(store.workdir or store.git_dir))
    assert kept is None or b"second" in kept  # fails: the first tip's listing, for the second
