"""Store error messages name the document once, where it lives."""

from __future__ import annotations

import pytest

from deksdenflow.errors import NewerSchema
from deksdenflow.store import codec
from deksdenflow.store.layout import PROJECT_FILE, STATE_REF


def test_a_newer_project_toml_names_the_ref_once() -> None:
    with pytest.raises(NewerSchema) as caught:
        codec.settings_doc("schema_version = 99\n", f"{PROJECT_FILE} on {STATE_REF}")
    assert str(caught.value).count(STATE_REF) == 1


def test_a_newer_meta_names_the_ref_once() -> None:
    with pytest.raises(NewerSchema) as caught:
        codec.load_meta(b'{"schema_version": 99, "lamport": 1}', "meta.json")
    assert str(caught.value).count(STATE_REF) == 1
    assert str(caught.value).startswith(f"meta.json on {STATE_REF} was written by a newer dflow")
