"""Whole protocols through `dflow`, with the real Codex CLI (and the openai engine) doing the work.

`dflow` runs as a subprocess from the venv, exactly as a user types it; the agents' model is the
scripted server, so every plan file, file change, token figure and verdict below comes from the
script and has travelled through the real CLI (or HTTP API) and dflow's own parsing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Protocol

import pytest

from ..conftest import git, make_repo
from .conftest import API_KEY, API_KEY_ENV, MODEL, CodexSetup
from .model_server import Message, Recorded, ShellCall, Usage

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


class Cli(Protocol):
    def __call__(self, *args: str, cwd: Path) -> Any: ...


DFLOW = Path(sys.executable).with_name("dflow")
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
RUN = "0001-greet"
FOLDER = f".protocols/{RUN}"

GREET_PY = 'def greet(name):\n    return f"Hello, {name}!"\n'
TEST_PY = "from greet import greet\n\nassert greet('dflow') == 'Hello, dflow!'\n"


def dflow(*args: str, cwd: Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """`dflow ARGS` as a user runs it: the venv's executable, in its own process."""
    out = subprocess.run([str(DFLOW), *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    if ok and out.returncode != 0:
        raise AssertionError(f"dflow {' '.join(args)} exit {out.returncode}:\n{out.stderr}")
    return out


def plan(*steps: tuple[str, str]) -> str:
    """The planner's answer, in the shape of schemas/plan.schema.json."""
    files = [
        {"path": "plan.md", "content": "# Plan\n\nAdd greet() and a test for it.\n"},
        {"path": "context.md", "content": "# Context\n\nA tiny Python repository.\n"},
        {"path": "log.md", "content": "# Log\n"},
    ]
    entries = []
    for index, (slug, title) in enumerate(steps, start=1):
        name = f"{index:02d}-{slug}.md"
        files.append({"path": name, "content": f"# {title}\n\nDo it.\n"})
        entries.append({"index": index, "type": "work", "title": title, "file": name,
                        "depends_on": None})
    return json.dumps({"summary": "Two small steps.", "files": files, "steps": entries})


def verdict(value: str, summary: str, findings: list[str] | None = None) -> str:
    return json.dumps({"verdict": value, "summary": summary, "findings": findings or []})


def in_process(cli: Cli, *args: str, cwd: Path) -> str:
    """Set-up and read commands go through Typer's runner: same code, no interpreter start-up."""
    result = cli(*args, cwd=cwd)
    assert result.exit_code == 0, f"dflow {' '.join(args)}: {result.output}"
    return str(result.output)


def show(cli: Cli, repo: Path) -> dict[str, Any]:
    return dict(json.loads(in_process(cli, "show", RUN, "--json", cwd=repo)))


def sandbox_modes(requests: list[Recorded]) -> list[str]:
    return [json.loads(r.headers["x-codex-turn-metadata"])["sandbox_mode"] for r in requests]


def state_files_containing(repo: Path, text: str) -> list[str]:
    """Paths in the state ref's tip whose content has `text` (git grep; none is exit 1)."""
    out = subprocess.run(
        ["git", "grep", "-l", "-F", text, "refs/deksdenflow/state"],
        cwd=repo, capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode in (0, 1), out.stderr
    return out.stdout.split()


def start_run(cli: Cli, repo: Path, engine: str, *settings: tuple[str, str]) -> None:
    in_process(cli, "init", "--engine", engine, cwd=repo)
    for key, value in settings:
        in_process(cli, "config", "set", key, value, cwd=repo)
    in_process(cli, "new", "greet", "--task", "Add a greet() function", "--engine", engine,
               cwd=repo)  # fmt: skip


def test_real_codex_plans_executes_and_reviews_a_whole_protocol(
    codex_setup: CodexSetup, tmp_path: Path, cli: Cli
) -> None:
    repo = make_repo(tmp_path / "repo")
    codex_setup.server.queue(
        Message(plan(("add-greet", "Add greet()"), ("add-test", "Test greet()")), Usage(900, 300)),
        ShellCall(f"printf '%s' '{GREET_PY}' > greet.py", Usage(400, 30)),
        Message("Added greet() in greet.py.", Usage(500, 20, cached_input_tokens=400)),
        Message(verdict("PASS", "greet() returns the greeting."), Usage(600, 50)),
        ShellCall(f"printf '%s' \"{TEST_PY}\" > test_greet.py && python3 -B test_greet.py"),
        Message("Added test_greet.py; it passes."),
        Message(verdict("PASS", "The test covers greet()."), Usage(700, 60)),
    )
    start_run(cli, repo, "codex", ("engines.codex.model", MODEL))

    done = dflow("run", RUN, "--wait", cwd=repo)

    assert codex_setup.server.pending() == [] and codex_setup.server.errors == []
    # The plan files on the branch are the scripted planner's, committed by dflow.
    plan_md = git("show", f"{RUN}:{FOLDER}/plan.md", cwd=repo)
    assert plan_md == "# Plan\n\nAdd greet() and a test for it."
    assert git("show", f"{RUN}:{FOLDER}/02-add-test.md", cwd=repo) == "# Test greet()\n\nDo it."
    # The files Codex wrote through its shell tool are committed on the run's branch.
    assert git("show", f"{RUN}:greet.py", cwd=repo) + "\n" == GREET_PY
    assert git("log", "--format=%s", RUN, "--", "greet.py", cwd=repo) == (
        f"feat({RUN}): Add greet() [protocol-0001/01]"
    )
    assert "test_greet.py" in git("ls-tree", "--name-only", RUN, cwd=repo)
    assert git("status", "--porcelain", cwd=tmp_path / "repo.worktrees" / RUN) == ""
    # Usage from `codex exec --json` (both requests of the turn), and the verdicts, on the steps.
    detail = show(cli, repo)
    first, second = detail["steps"]
    assert first["usage"] == {"input_tokens": 900, "output_tokens": 50, "cached_input_tokens": 400}
    assert (first["engine"], first["model"], first["status"]) == ("codex", MODEL, "completed")
    assert first["summary"] == "Added greet() in greet.py."
    assert first["qa"] == {"verdict": "PASS", "summary": "greet() returns the greeting.",
                           "findings": []}  # fmt: skip
    assert second["qa"]["verdict"] == "PASS" and second["status"] == "completed"
    status = json.loads(in_process(cli, "status", "--json", cwd=repo))
    assert [r["status"] for r in status["runs"]] == ["completed"]
    assert "ready to land" in done.stdout
    # What dflow asked of Codex: read-only planning and QA, workspace-write execution, and the
    # shipped schemas as the output schemas.
    requests = codex_setup.server.model_requests()
    assert sandbox_modes(requests) == [
        "read-only", "workspace-write", "workspace-write", "read-only",
        "workspace-write", "workspace-write", "read-only",
    ]  # fmt: skip
    plan_schema = json.loads((SCHEMAS / "plan.schema.json").read_text())
    qa_schema = json.loads((SCHEMAS / "qa.schema.json").read_text())
    assert requests[0].body["text"]["format"]["schema"] == plan_schema
    assert requests[3].body["text"]["format"]["schema"] == qa_schema
    assert "Add a greet() function" in requests[0].text()
    # The real CLI's transcripts are kept on the state ref; the provider's key never is.
    transcripts = state_files_containing(repo, '"type":"turn.completed"')
    assert any("01-execute" in path for path in transcripts), transcripts
    assert state_files_containing(repo, API_KEY) == []


def test_a_malformed_verdict_from_real_codex_blocks_the_step(
    codex_setup: CodexSetup, tmp_path: Path, cli: Cli
) -> None:
    repo = make_repo(tmp_path / "repo")
    codex_setup.server.queue(
        Message(plan(("add-greet", "Add greet()"))),
        ShellCall(f"printf '%s' '{GREET_PY}' > greet.py"),
        Message("Added greet()."),
        Message("PASS - looks good to me"),  # not the verdict object: never a PASS
    )
    start_run(cli, repo, "codex", ("engines.codex.model", MODEL), ("retry.max_attempts", "1"))

    done = dflow("run", RUN, "--wait", cwd=repo, ok=False)

    assert done.returncode == 4, done.stderr  # blocked: waits for a person
    assert codex_setup.server.pending() == []
    (step,) = show(cli, repo)["steps"]
    assert step["status"] == "blocked"
    assert step["qa"] is None or step["qa"]["verdict"] != "PASS"
    assert "not JSON" in step["reason"]
    # The work itself was done and committed; only the review is missing.
    assert git("show", f"{RUN}:greet.py", cwd=repo) + "\n" == GREET_PY


def test_the_openai_engine_runs_a_whole_protocol_against_the_same_server(
    codex_setup: CodexSetup, tmp_path: Path, cli: Cli
) -> None:
    repo = make_repo(tmp_path / "repo")
    server = codex_setup.server
    server.queue(
        Message(plan(("add-greet", "Add greet()")), Usage(800, 200)),
        Message("Write greet.py with a greet(name) function.", Usage(300, 40)),
        Message(verdict("FAIL", "Nothing was written.", ["greet.py is missing"]), Usage(200, 30)),
    )
    start_run(
        cli, repo, "openai", ("engines.openai.model", MODEL),
        ("engines.openai.options.base_url", server.base_url),
        ("engines.openai.options.api_key_env", API_KEY_ENV),
    )  # fmt: skip

    done = dflow("run", RUN, "--wait", cwd=repo, ok=False)

    assert done.returncode == 4, done.stderr  # QA said FAIL: the step waits for a person
    assert server.pending() == [] and server.errors == []
    assert git("show", f"{RUN}:{FOLDER}/01-add-greet.md", cwd=repo) == "# Add greet()\n\nDo it."
    (step,) = show(cli, repo)["steps"]
    assert step["usage"] == {"input_tokens": 300, "output_tokens": 40, "cached_input_tokens": 0}
    assert step["qa"] == {"verdict": "FAIL", "summary": "Nothing was written.",
                          "findings": ["greet.py is missing"]}  # fmt: skip
    assert step["status"] == "blocked"
    requests = server.model_requests()
    assert [r.path for r in requests] == ["/v1/chat/completions"] * 3
    assert all(r.headers["authorization"] == f"Bearer {API_KEY}" for r in requests)
    assert requests[0].body["model"] == MODEL
    plan_format = requests[0].body["response_format"]
    assert plan_format["type"] == "json_schema"
    assert plan_format["json_schema"]["schema"] == json.loads(
        (SCHEMAS / "plan.schema.json").read_text()
    )
    assert state_files_containing(repo, API_KEY) == []
