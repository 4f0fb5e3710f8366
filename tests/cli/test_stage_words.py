"""Every command words a run with its stage (domain/runs/stages.py): the status table, `status
--json`'s `stage`, `show` (Typer and the fast path), the control commands' answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from deksdenflow.context.project import Project
from tests.cli.test_status_fast import _dflow

DFLOW = str(Path(sys.executable).with_name("dflow"))


def _stage_of(cli, repo: Path, run: str) -> tuple[str, str]:
    line = json.loads(cli("status", run, "--json", cwd=repo).output)["runs"][0]
    return line["status"], line["stage"]


def test_a_cancelled_paused_run_is_cancelled_everywhere(project: Project, repo: Path,
                                                        cli) -> None:
    cli("new", "x", "--task", "t", "--no-plan", cwd=repo)
    assert _stage_of(cli, repo, "x") == ("pending", "waiting")
    assert cli("pause", "x", cwd=repo).output == "paused 0001-x; it is paused\n"
    assert _stage_of(cli, repo, "x") == ("pending", "paused")
    assert cli("cancel", "x", cwd=repo).output == "cancelled 0001-x; it is cancelled\n"
    assert _stage_of(cli, repo, "x") == ("cancelled", "cancelled")
    listing = _dflow(repo, "status")  # the fast path
    assert " 0001-x  cancelled  0/0 " in listing and "paused" not in listing
    assert _dflow(repo, "--debug", "status") == listing  # the Typer path
    shown = cli("show", "x", cwd=repo).output
    assert shown.startswith("0001-x  cancelled  branch 0001-x") and "(paused)" not in shown
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    fast = subprocess.run([DFLOW, "show", "x"], cwd=repo, capture_output=True, text=True,
                          env=env, check=True).stdout
    assert fast.startswith("0001-x  cancelled  branch 0001-x")


def test_a_ready_run_reads_ready_to_land_in_every_answer(project: Project, repo: Path,
                                                         cli) -> None:
    cli("new", "x", "--task", "say hello", "--engine", "demo", cwd=repo)
    ran = cli("run", "x", "--wait", cwd=repo)
    assert ran.output.splitlines()[-1].startswith("0001-x: ready to land, 3/3 steps done")
    assert _stage_of(cli, repo, "x") == ("completed", "ready to land")
    assert " 0001-x  ready to land  3/3 " in cli("status", cwd=repo).output
    assert cli("show", "x", cwd=repo).output.startswith("0001-x  ready to land  branch")
    again = cli("run", "x", cwd=repo)
    assert again.exit_code == 1
    assert "0001-x is ready to land; nothing left to run (`dflow land 0001-x`" in again.output
