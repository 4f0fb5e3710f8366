"""The agent's DFLOW_ATTEMPT is the number `dflow logs --attempt N` shows its transcript under."""

from __future__ import annotations

import stat
from pathlib import Path

AGENT = """#!/bin/sh
echo "DFLOW_ATTEMPT=$DFLOW_ATTEMPT" >&2
echo "attempt $DFLOW_ATTEMPT" >> work.txt
echo '{"summary": "wrote work.txt"}'
"""


def test_a_step_retried_after_qa_tells_the_agent_its_second_attempt(repo: Path, cli,
                                                                     tmp_path: Path) -> None:
    """Before: the retried step's agent got DFLOW_ATTEMPT=1 (a new job) while `dflow logs RUN
    1 --attempt 2` showed its transcript."""
    agent = tmp_path / "agent.sh"
    agent.write_text(AGENT)
    agent.chmod(agent.stat().st_mode | stat.S_IEXEC)
    assert cli("init", "--engine", "demo", cwd=repo).exit_code == 0
    for key, value in (("engines.cmd.kind", "command"), ("engines.cmd.options.command",
                                                          str(agent)),
                       ("phases.execute", "cmd")):
        assert cli("config", "set", key, value, cwd=repo).exit_code == 0
    cli("new", "x", "--task", "t", cwd=repo)
    first = cli("run", "x", "--wait", cwd=repo)
    assert "step 01 qa: FAIL" in first.output, first.output  # the demo QA finds no demo module
    retried = cli("step", "retry", "x", "1", "--wait", cwd=repo)
    assert "step 01 execute" in retried.output, retried.output
    for n in (1, 2):
        log = cli("logs", "x", "1", "--attempt", str(n), cwd=repo).output
        assert f"DFLOW_ATTEMPT={n}\n" in log, (n, log)
