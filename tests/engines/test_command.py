"""The command engine runs a real command line built from its template."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from deksdenflow.domain.config.settings import EngineConfig
from deksdenflow.engines.command import render
from deksdenflow.engines.registry import get_engine
from deksdenflow.errors import (
    ConfigError,
    EngineFailed,
    EngineNotFound,
    EngineOutputInvalid,
    EngineTimeout,
)

from .conftest import VERDICT_SCHEMA, request

PY = sys.executable

# A tiny agent: copies its inputs into the output file and proves which files it got.
AGENT = """
import json, os, sys
prompt_file, output_file, schema_file, model, sandbox = sys.argv[1:6]
prompt = open(prompt_file).read()
schema = json.load(open(schema_file))
open(output_file, "w").write(json.dumps({"verdict": "PASS", "prompt": prompt, "model": model,
    "sandbox": sandbox, "cwd": os.getcwd(), "schema_keys": sorted(schema)}))
"""


def command_engine(command: str, **options: object) -> object:
    config = EngineConfig(kind="command", model="m-1", options={"command": command, **options})
    return get_engine("mine", config)


@pytest.fixture
def agent(tmp_path: Path) -> Path:
    path = tmp_path / "agent's script.py"  # a space and a quote in the path
    path.write_text(AGENT)
    return path


def test_command_fills_every_placeholder_and_reads_the_output_file(
    agent: Path, workdir: Path
) -> None:
    placeholders = "{prompt_file} {output_file} {schema_file} {model} {sandbox}"
    engine = command_engine(f"{PY} {shlex.quote(str(agent))} {placeholders}")

    result = engine.run(request(workdir, prompt="it's a prompt\n"))  # type: ignore[attr-defined]

    out = json.loads(result.output)
    assert out["prompt"] == "it's a prompt\n"
    assert (out["model"], out["sandbox"], out["cwd"]) == ("m-1", "read-only", str(workdir))
    assert out["schema_keys"] == []  # no schema given: the file holds {}
    assert result.exit_status == 0 and result.model == "m-1"


def test_command_without_output_file_reads_stdout_and_gets_the_prompt_on_stdin(
    workdir: Path,
) -> None:
    engine = command_engine(f"{PY} -c 'import sys; print(sys.stdin.read().upper(), end=\"\")'")

    result = engine.run(request(workdir, prompt="shout\n"))  # type: ignore[attr-defined]

    assert result.output == "SHOUT\n"


def test_command_output_is_validated_against_the_schema(workdir: Path) -> None:
    engine = command_engine(f'{PY} -c \'print("{{{{\\"verdict\\": 1}}}}")\'')

    with pytest.raises(EngineOutputInvalid, match=r"at verdict: 1 is not of type 'string'"):
        engine.run(request(workdir, output_schema=VERDICT_SCHEMA))  # type: ignore[attr-defined]


def test_command_gets_the_request_schema_in_its_schema_file(workdir: Path) -> None:
    # The agent answers with the second enum value it finds in the schema it was given.
    script = (
        "import json, sys; s = json.load(open(sys.argv[1])); "
        "print(json.dumps(dict(verdict=s['properties']['verdict']['enum'][1])))"
    )
    engine = command_engine(f"{PY} -c {json.dumps(script)} {{schema_file}}")

    result = engine.run(request(workdir, output_schema=VERDICT_SCHEMA))  # type: ignore[attr-defined]

    assert json.loads(result.output) == {"verdict": "FAIL"}


def test_command_that_writes_no_output_file_is_an_error(workdir: Path) -> None:
    engine = command_engine("true {output_file}")

    with pytest.raises(EngineOutputInvalid, match=r"did not write \{output_file\}"):
        engine.run(request(workdir))  # type: ignore[attr-defined]


def test_command_non_zero_exit_quotes_stderr(workdir: Path) -> None:
    engine = command_engine(f"{PY} -c 'import sys; sys.exit(\"quota exceeded\")'")

    with pytest.raises(EngineFailed, match=r"engine 'mine' exited with status 1: quota exceeded"):
        engine.run(request(workdir))  # type: ignore[attr-defined]


def test_command_missing_binary_names_the_demo_engine(workdir: Path) -> None:
    engine = command_engine("no-such-agent-xyz {prompt_file}")

    with pytest.raises(EngineNotFound, match=r"`no-such-agent-xyz`.*--engine demo"):
        engine.run(request(workdir))  # type: ignore[attr-defined]


def test_command_timeout_is_an_error(workdir: Path) -> None:
    engine = command_engine("sleep 30")

    with pytest.raises(EngineTimeout, match=r"within 0.5 s"):
        engine.run(request(workdir, timeout_s=0.5))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("", r"has no command line"),
        ("agent {prompt}", r"unknown placeholder \{prompt\}"),
        ("agent {prompt_file", r"not a valid template"),
        ("agent '{prompt_file}", r"cannot be split"),
    ],
)
def test_bad_templates_get_a_config_error(workdir: Path, command: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        command_engine(command).run(request(workdir))  # type: ignore[attr-defined]


def test_render_keeps_each_value_one_argument_even_inside_quotes() -> None:
    values = {"prompt_file": "/tmp/a b/it's.md", "model": ""}

    assert render("agent --in {prompt_file} -m {model}", values) == [
        "agent",
        "--in",
        "/tmp/a b/it's.md",
        "-m",
        "",
    ]
    # Inside a double-quoted `sh -c` script the value arrives quoted for that shell.
    assert render('sh -c "wc -c < {cwd}"', {"cwd": "/tmp/a b"}) == [
        "sh",
        "-c",
        "wc -c < '/tmp/a b'",
    ]
