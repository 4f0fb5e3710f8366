"""The claude engine against a fake `claude` on PATH that parses Claude Code's flags."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from deksdenflow.domain.config.settings import EngineConfig
from deksdenflow.engines.registry import get_engine
from deksdenflow.errors import (
    EngineFailed,
    EngineNotFound,
    EngineOutputInvalid,
    EngineRefused,
    EngineTimeout,
)

from .conftest import VERDICT_SCHEMA, FakeAgent, request


def claude(**config: object) -> object:
    return get_engine("claude", EngineConfig(kind="claude", **config))  # type: ignore[arg-type]


def test_claude_returns_result_usage_and_cost(fake_claude: FakeAgent, workdir: Path) -> None:
    usage = {
        "input_tokens": 8,
        "cache_creation_input_tokens": 192,
        "cache_read_input_tokens": 17004,
        "output_tokens": 32,
        "server_tool_use": {"web_search_requests": 0},
    }
    fake_claude.script(result='```json\n{"verdict": "PASS"}\n```', usage=usage, cost=0.3464)

    result = claude(model="sonnet").run(  # type: ignore[attr-defined]
        request(workdir, output_schema=VERDICT_SCHEMA, prompt="review it\n")
    )

    assert json.loads(result.output) == {"verdict": "PASS"}
    assert result.usage.input_tokens == 8 + 192 + 17004
    assert (result.usage.cached_input_tokens, result.usage.output_tokens) == (17004, 32)
    assert (result.cost, result.model, result.exit_status) == (0.3464, "sonnet", 0)
    rec = fake_claude.record()
    assert rec["prompt"].startswith("review it\n") and '"enum": [' in rec["prompt"]
    assert rec["cwd"] == str(workdir)
    assert fake_claude.flag("--model") == "sonnet"
    assert "--json-schema" not in rec["argv"]


def test_claude_read_only_denies_writes_and_shell(fake_claude: FakeAgent, workdir: Path) -> None:
    fake_claude.script(write={"x.txt": "no"})

    claude().run(request(workdir, sandbox="read-only"))  # type: ignore[attr-defined]

    assert fake_claude.flag("--permission-mode") == "default"
    assert fake_claude.flag("--allowedTools") == "Read,Glob,Grep,LS"
    assert set(fake_claude.flag("--disallowedTools").split(",")) >= {"Write", "Edit", "Bash"}
    assert not (workdir / "x.txt").exists()


def test_claude_workspace_write_accepts_edits(fake_claude: FakeAgent, workdir: Path) -> None:
    fake_claude.script(write={"x.txt": "yes"})

    claude().run(request(workdir, sandbox="workspace-write", phase="execute"))  # type: ignore[attr-defined]

    assert fake_claude.flag("--permission-mode") == "acceptEdits"
    # Bash (in Claude Code's sandbox); the edit tools by acceptEdits, inside the worktree only.
    allowed = set(fake_claude.flag("--allowedTools").split(","))
    assert "Bash" in allowed and not allowed & {"Write", "Edit", "MultiEdit"}
    assert "--disallowedTools" not in fake_claude.record()["argv"]
    assert (workdir / "x.txt").read_text() == "yes"


def test_claude_native_schema_uses_structured_output(fake_claude: FakeAgent, workdir: Path) -> None:
    fake_claude.script(result="Here you go.", structured={"verdict": "FAIL"})

    result = claude(options={"native_schema": True}).run(  # type: ignore[attr-defined]
        request(workdir, output_schema=VERDICT_SCHEMA)
    )

    assert json.loads(fake_claude.flag("--json-schema")) == VERDICT_SCHEMA
    assert json.loads(result.output) == {"verdict": "FAIL"}


def test_claude_error_result_is_a_failed_attempt(fake_claude: FakeAgent, workdir: Path) -> None:
    fake_claude.script(subtype="error_max_turns", is_error=True, exit=1)

    with pytest.raises(EngineFailed, match=r"status 1: Claude Code stopped with error_max_turns"):
        claude().run(request(workdir))  # type: ignore[attr-defined]


def test_claude_is_error_with_exit_zero_still_fails(fake_claude: FakeAgent, workdir: Path) -> None:
    fake_claude.script(is_error=True, result="Invalid API key · Please run /login", exit=0)

    with pytest.raises(EngineFailed, match=r"Invalid API key"):
        claude().run(request(workdir))  # type: ignore[attr-defined]


def test_claude_unknown_flag_fails_like_the_real_cli(fake_claude: FakeAgent, workdir: Path) -> None:
    with pytest.raises(EngineFailed, match=r"status 2: .*unknown option"):
        claude(options={"extra_args": "--frobnicate"}).run(request(workdir))  # type: ignore[attr-defined]


def test_claude_output_failing_the_schema(fake_claude: FakeAgent, workdir: Path) -> None:
    fake_claude.script(result='{"verdict": "PASS", "extra": 1}')

    with pytest.raises(EngineOutputInvalid, match=r"Additional properties"):
        claude().run(request(workdir, output_schema=VERDICT_SCHEMA))  # type: ignore[attr-defined]


def test_claude_without_result_field(fake_claude: FakeAgent, workdir: Path) -> None:
    fake_claude.script(no_result=True)

    with pytest.raises(EngineOutputInvalid, match=r"no `result`"):
        claude().run(request(workdir))  # type: ignore[attr-defined]


def test_missing_claude_names_the_demo_engine(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))

    with pytest.raises(EngineNotFound, match=r"`claude` command.*--engine demo"):
        claude().run(request(workdir))  # type: ignore[attr-defined]


def test_claude_timeout(workdir: Path, tmp_path: Path) -> None:
    slow = tmp_path / "slow-claude"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)

    with pytest.raises(EngineTimeout, match=r"within 0.5 s"):
        claude(options={"binary": str(slow)}).run(request(workdir, timeout_s=0.5))  # type: ignore[attr-defined]


def test_a_claude_without_json_schema_is_permanent_and_names_the_option(
    tmp_path: Path, workdir: Path
) -> None:
    old = tmp_path / "old-claude"
    old.write_text("#!/bin/sh\necho \"error: unknown option '--json-schema'\" >&2\nexit 1\n")
    old.chmod(0o755)
    engine = claude(options={"binary": str(old), "native_schema": True})

    with pytest.raises(EngineFailed) as exc:
        engine.run(request(workdir, output_schema=VERDICT_SCHEMA))  # type: ignore[attr-defined]

    assert exc.value.permanent and "native_schema = false" in str(exc.value)


# --- Claude Code's native sandbox (issue 28, decision 1560) ---------------------------------


def test_claude_runs_with_its_sandbox_on_from_a_settings_file_outside_the_worktree(
    fake_claude: FakeAgent, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    (repo / ".git" / "worktrees" / "0001-x").mkdir(parents=True)
    worktree = tmp_path / "repo.worktrees" / "0001-x"
    worktree.mkdir(parents=True)
    (worktree / ".git").write_text(f"gitdir: {repo}/.git/worktrees/0001-x\n")
    fake_claude.script()

    result = claude(options={"allowed_hosts": ["pypi.org"]}).run(  # type: ignore[attr-defined]
        request(worktree, sandbox="workspace-write", phase="execute"))

    assert result.sandboxed is True
    rec = fake_claude.record()
    settings_file = Path(fake_claude.flag("--settings"))
    assert not settings_file.is_relative_to(worktree) and not settings_file.exists()
    sandbox = rec["settings"]["sandbox"]
    assert (sandbox["enabled"], sandbox["failIfUnavailable"]) == (True, True)
    assert sandbox["allowUnsandboxedCommands"] is False
    assert sandbox["network"] == {"allowedDomains": ["pypi.org"], "strictAllowlist": True}
    assert sandbox["filesystem"]["denyWrite"] == [
        str(worktree / ".git"), str(repo / ".git" / "worktrees" / "0001-x"), str(repo / ".git"),
        str(settings_file)]
    # The repository's own .claude/settings*.json and .mcp.json are never read.
    assert fake_claude.flag("--setting-sources") == "user"
    scratch = Path(rec["env"]["CLAUDE_CODE_TMPDIR"])
    assert scratch.parent == settings_file.parent and not scratch.is_relative_to(worktree)


def test_claude_whose_sandbox_cannot_start_is_a_permanent_refusal(
    fake_claude: FakeAgent, workdir: Path
) -> None:
    fake_claude.script(sandbox_unavailable=True)

    with pytest.raises(EngineRefused, match=r"cannot start Claude Code's sandbox here \(sandbox "
                       r"required but unavailable.*bwrap.*`dflow doctor`.*native_sandbox"):
        claude().run(request(workdir, sandbox="workspace-write", phase="execute"))  # type: ignore[attr-defined]


def test_claude_that_does_not_report_its_sandbox_on_is_refused(
    fake_claude: FakeAgent, workdir: Path
) -> None:
    fake_claude.script(no_sandbox_report=True)  # an older Claude Code ignores the settings

    with pytest.raises(EngineRefused, match="ran without Claude Code's sandbox"):
        claude().run(request(workdir, sandbox="workspace-write", phase="execute"))  # type: ignore[attr-defined]


def test_a_project_may_turn_the_sandbox_off_explicitly_and_the_result_says_so(
    fake_claude: FakeAgent, workdir: Path
) -> None:
    fake_claude.script()

    result = claude(options={"native_sandbox": False}).run(  # type: ignore[attr-defined]
        request(workdir, sandbox="workspace-write", phase="execute"))

    assert result.sandboxed is False
    assert "--settings" not in fake_claude.record()["argv"]
    assert fake_claude.flag("--setting-sources") == "user"


def test_doctor_check_names_the_packages_when_bubblewrap_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap, no socat

    (check,) = claude().checks()  # type: ignore[attr-defined]

    assert (check.name, check.level) == ("claude sandbox", "fail")
    assert "bwrap and socat not on PATH" in check.detail
    assert "apt-get install bubblewrap socat" in check.fix
    (off,) = claude(options={"native_sandbox": False}).checks()  # type: ignore[attr-defined]
    assert off.level == "warn" and "unconfined" in off.detail


def test_a_sandbox_that_broke_while_the_agent_worked_fails_the_attempt(
    fake_claude: FakeAgent, workdir: Path
) -> None:
    fake_claude.script(sandbox_broke=True, result="All done (nothing could run).")

    with pytest.raises(EngineFailed, match="sandbox failed while the agent worked .*bridge"):
        claude().run(request(workdir, sandbox="workspace-write", phase="execute"))  # type: ignore[attr-defined]
