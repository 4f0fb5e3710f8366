"""`dflow metrics`: parsed by prometheus_client's parser, figures checked against the events."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from deksdenflow.context.project import Project
from deksdenflow.domain.eventlog.payloads import Spend


def parse(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return out


def total(samples: dict[tuple[tuple[str, str], ...], float], **match: str) -> float:
    return sum(v for k, v in samples.items() if match.items() <= dict(k).items())


def event_tokens(project: Project) -> int:
    view = project.view()
    n = 0
    for uid in view.run_uids():
        for event in view.run_events(uid):
            if isinstance(event.data, Spend):
                n += event.data.usage.input_tokens + event.data.usage.output_tokens
    return n


def test_metrics_parse_and_match_the_events(project: Project, history, cli) -> None:
    history()
    result = cli("metrics", cwd=project.root)
    assert result.exit_code == 0, result.output
    m = parse(result.output)
    assert total(m["dflow_tokens_total"]) == event_tokens(project) == (
        7 + 120 + 6 + 20 + 55 + 6) + (1100 + 6)
    assert total(m["dflow_tokens_total"], model="m2") == 55 + 20  # two failed attempts: 10 each
    assert total(m["dflow_tokens_total"], engine="claude", model="sonnet") == 1100
    assert total(m["dflow_cost_total"]) == 1.75
    assert total(m["dflow_step_attempts_total"], model="m2") == 3
    assert total(m["dflow_qa_verdicts_total"], verdict="PASS") == 2
    assert total(m["dflow_qa_verdicts_total"], verdict="FAIL", model="m2") == 1
    errors = m["dflow_step_errors_total"]
    assert total(errors) == total(errors, model="m2") == 2
    assert total(m["dflow_runs"], status="completed") == 1
    assert total(m["dflow_runs"], status="failed") == 1
    assert total(m["dflow_step_duration_seconds_count"]) == 3
    assert total(m["dflow_step_duration_seconds_sum"], model="m2") == 42.0
    assert total(m["dflow_step_duration_seconds_bucket"], model="m1", le="5.0") == 1
    assert total(m["dflow_run_duration_seconds_count"]) == 2
    labels = {name for series in m.values() for key in series for name, _ in key}
    assert labels <= {"project", "engine", "model", "variant", "step_type", "status", "kind",
                      "verdict", "le"}
    assert {v for series in m.values() for k in series for n, v in k if n == "project"} == {
        "repo"}


def test_tokens_total_matches_show(project: Project, history, cli) -> None:
    history()
    m = parse(cli("metrics", cwd=project.root).output)
    shown = [json.loads(cli("show", str(n), "--json", cwd=project.root).output)
             for n in (1, 2)]
    assert total(m["dflow_tokens_total"]) == sum(
        s["run"]["tokens"] for s in shown)


def test_textfile_is_replaced_atomically(project: Project, history, cli, tmp_path: Path) -> None:
    history()
    target = tmp_path / "collector" / "dflow.prom"
    assert cli("metrics", "--textfile", str(target), cwd=project.root).exit_code == 0
    first = target.read_text()
    assert total(parse(first)["dflow_tokens_total"]) > 0
    assert [p.name for p in target.parent.iterdir()] == ["dflow.prom"]  # no temp file left


def test_serve_answers_a_scrape_on_loopback(project: Project, history) -> None:
    history()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "deksdenflow.cli.main", "metrics", "--serve",
                             f"127.0.0.1:{port}"], cwd=project.root, stderr=subprocess.PIPE)
    try:
        body = _scrape(f"http://127.0.0.1:{port}/metrics")
    finally:
        proc.terminate()
        proc.wait(10)
    assert total(parse(body)["dflow_tokens_total"]) == event_tokens(project)


def _scrape(url: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(url, timeout=5).text
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_a_bad_serve_address_is_a_usage_error(project: Project, cli) -> None:
    result = cli("metrics", "--serve", "nowhere", cwd=project.root)
    assert result.exit_code == 2
    assert re.search(r"--serve wants HOST:PORT", result.output)
