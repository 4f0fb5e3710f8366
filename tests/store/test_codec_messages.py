"""Store error messages name the document once, where it lives."""

from __future__ import annotations

import pytest
import tomlkit

from deksdenflow.context import config
from deksdenflow.context.project import default_project_text
from deksdenflow.errors import ConfigError, NewerSchema
from deksdenflow.store.encoding import codec
from deksdenflow.store.encoding.layout import PROJECT_FILE, STATE_REF


def test_a_newer_project_toml_names_the_ref_once() -> None:
    with pytest.raises(NewerSchema) as caught:
        codec.settings_doc("schema_version = 99\n", f"{PROJECT_FILE} on {STATE_REF}")
    assert str(caught.value).count(STATE_REF) == 1


def test_a_newer_meta_names_the_ref_once() -> None:
    with pytest.raises(NewerSchema) as caught:
        codec.load_meta(b'{"schema_version": 99, "lamport": 1}', "meta.json")
    assert str(caught.value).count(STATE_REF) == 1
    assert str(caught.value).startswith(f"meta.json on {STATE_REF} was written by a newer dflow")


RICH_PROJECT = """\
# a comment
schema_version = 1
[project]
name = "x" # trailing
base_branch = 'main'
[phases]
default = "demo"
[engines.fast]
kind = "command"
command = ["sh", "-c", "echo \\"hi\\" \\u00e9"]
[budget]
tokens = 1_000
[budget.month]
max_tokens = 0x10
[qa]
policy = \"\"\"each_step\"\"\"
"""


@pytest.mark.parametrize("text", [RICH_PROJECT, default_project_text("p", "main", "demo")])
def test_project_toml_reads_as_tomlkit_read_it(text: str) -> None:
    # Read with the standard library's parser (decision 1318): the same data tomlkit gives.
    assert codec.settings_doc(text, "p") == tomlkit.parse(text).unwrap()


@pytest.mark.parametrize("text", ["[project\n", "a = \n", "a = 1\na = 2\n"])
def test_bad_toml_is_told_in_tomlkits_words(text: str) -> None:
    try:
        tomlkit.parse(text)
    except Exception as exc:  # what the message quoted before decision 1318
        expected = f"p is not valid TOML ({exc}); fix it and run again"
    with pytest.raises(ConfigError) as caught:
        codec.settings_doc(text, "p")
    assert str(caught.value) == expected


def test_an_environment_value_is_a_toml_literal_when_it_is_one() -> None:
    assert [config._parse_raw(raw) for raw in ("3", "true", '["A", "B"]', "x y", "1979-05-27")] \
        == [3, True, ["A", "B"], "x y", tomlkit.parse("v = 1979-05-27").unwrap()["v"]]
