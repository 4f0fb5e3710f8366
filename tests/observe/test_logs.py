"""JSON logs for worker, run --wait and ci report: every line parses and carries its ids."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deksdenflow.cli.team.worker_cmds import print_transition
from deksdenflow.context.project import Project
from deksdenflow.domain import correlation
from deksdenflow.domain.config.settings import EngineConfig
from deksdenflow.domain.runs.models import JobKind
from deksdenflow.engines.base import EngineRequest
from deksdenflow.engines.registry import get_engine
from deksdenflow.jobs import runner
from deksdenflow.jobs.worker import Transition
from deksdenflow.wiring import Wiring
from deksdenflow.workflow.lifecycle import runs

IDS = ("project", "run", "step", "job", "attempt", "worker")


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_worker_json_lines_carry_run_step_and_job_ids(project: Project) -> None:
    runs.create_run(project, "greet", "add a greeting")
    out = subprocess.run([sys.executable, "-m", "deksdenflow.cli.main", "worker", "-j", "1",
                          "--burst", "--log-format", "json"], cwd=project.root,
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    records = lines(out.stdout)
    assert all({"time", "level", "message", *IDS} <= r.keys() for r in records)
    finished = [r for r in records if r.get("event") == "finished"]
    assert {r["kind"] for r in finished} >= {"plan", "execute", "qa"}
    for r in finished:
        assert r["run"] == "0001-greet" and r["job"] and r["attempt"] == 1
        assert r["worker"] and r["project"] == "repo"
    assert {r["step"] for r in finished if r["kind"] == "execute"} >= {1}


def test_env_variable_picks_json_and_a_bad_value_is_a_usage_error(project: Project,
                                                                  cli, monkeypatch) -> None:
    monkeypatch.setenv("DFLOW_LOG_FORMAT", "yaml")
    result = cli("worker", "--burst", cwd=project.root)
    assert result.exit_code == 2 and "DFLOW_LOG_FORMAT wants text or json" in result.output


def test_run_wait_json_lines(project: Project, cli, monkeypatch) -> None:
    runs.create_run(project, "greet", "add a greeting")
    monkeypatch.setenv("DFLOW_LOG_FORMAT", "json")
    result = cli("run", "1", "--wait", cwd=project.root)
    records = lines(result.output.split("\n0001-greet:")[0])
    assert records and all(r["run"] == "0001-greet" and r["job"] and r["worker"]
                           for r in records)
    assert any(r["step"] == 1 and r["kind"] == "execute" for r in records)


def test_ci_report_json_line(project: Project, cli) -> None:
    result = cli("ci", "report", "--status", "success", "--branch", "nowhere",
                 "--log-format", "json", cwd=project.root)
    (record,) = lines(result.output)
    assert set(IDS) <= record.keys() and record["worker"] == "ci:local"


def test_text_worker_lines_name_the_run_not_only_the_job(capsys, monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    print_transition(Transition(at=datetime.now(UTC), worker="w1", event="claimed", job="J1",
                                kind="execute", run="UID", run_id="0001-greet", step=2))
    assert "execute 0001-greet step 02 (job J1)" in capsys.readouterr().out


def test_the_engine_process_gets_the_job_ids(tmp_path: Path) -> None:
    seen = tmp_path / "env.json"
    script = tmp_path / "agent.py"
    script.write_text("import json, os, sys\n"
                      "json.dump({k: v for k, v in os.environ.items()"
                      f" if k.startswith('DFLOW_')}},"
                      f" open({str(seen)!r}, 'w'))\nopen(sys.argv[1], 'w').write('done')\n")
    engine = get_engine("mine", EngineConfig(kind="command", options={
        "command": f"{sys.executable} {script} {{output_file}}"}))
    with correlation.bound(job="J1", run="0007-x", step=2, attempt=3, worker="w9"):
        engine.run(EngineRequest(prompt="p", cwd=tmp_path, sandbox="read-only",
                                 phase="execute"))
    env = json.loads(seen.read_text())
    assert {k: env[k] for k in ("DFLOW_JOB_ID", "DFLOW_RUN_ID", "DFLOW_STEP", "DFLOW_ATTEMPT",
                                "DFLOW_WORKER_ID")} == {
        "DFLOW_JOB_ID": "J1", "DFLOW_RUN_ID": "0007-x", "DFLOW_STEP": "2",
        "DFLOW_ATTEMPT": "3", "DFLOW_WORKER_ID": "w9"}


def test_a_job_attempt_binds_its_ids(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    snap = runs.create_run(project, "greet", "add a greeting")
    seen: dict[str, str] = {}

    class Capture:
        def run(self, project: Project, job: object, worker: str) -> None:
            seen.update(correlation.ids())

        def on_failure(self, *args: object) -> None:
            return None

    job = next(j for j in project.view().run(snap.run.uid).jobs if j.kind == JobKind.PLAN)
    capturing = Wiring(handlers={JobKind.PLAN: Capture()}).open_project(project.root)
    runner.attempt(capturing, job, "w-test")
    assert seen == {"project": "repo", "run": "0001-greet", "job": job.id, "attempt": "0",
                    "worker": "w-test"}
    assert correlation.ids() == {}


def test_a_piped_worker_line_is_one_line_however_long(capsys, monkeypatch) -> None:
    """Before: piped, Rich wrapped at 80 columns and one log line became two."""
    monkeypatch.delenv("COLUMNS", raising=False)
    detail = "engine 'cmd' exited with status 1: " + "a long reason " * 10
    print_transition(Transition(at=datetime.now(UTC), worker="w1@some-host-name", event="failed",
                                job="01M99GTAWHFSYK5SB7K40T89V8", kind="execute", run="UID",
                                run_id="0001-a-rather-long-run-name", step=2, detail=detail))
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and detail.strip() in out, out
