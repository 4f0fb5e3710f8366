"""OpenTelemetry, the optional extra: spans per job and engine call when the SDK is installed
and OTEL_EXPORTER_OTLP_ENDPOINT is set; nothing imported otherwise."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deksdenflow.context import tracing
from deksdenflow.context.project import Project
from deksdenflow.workflow.lifecycle import runs
from tests.workflow.conftest import settle

PROBE = """
import sys
from deksdenflow.cli.main import main
sys.argv = ["dflow", "demo"]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
print(sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry"))
"""


def test_without_the_endpoint_a_whole_demo_imports_nothing_of_opentelemetry(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_span_is_a_no_op_without_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(tracing.ENDPOINT, raising=False)
    with tracing.span("dflow.job plan", kind="plan"):
        pass
    assert tracing._tracer("") is None


@pytest.mark.skipif(importlib.util.find_spec("opentelemetry") is None,
                    reason="opentelemetry-sdk is not installed (pip install deksdenflow[otel])")
def test_a_run_exports_a_span_per_job_with_its_engine_calls_inside(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # once per process: what an application would do
    if trace.get_tracer_provider() is not provider:
        pytest.skip("another tracer provider was installed in this process first")
    monkeypatch.setenv(tracing.ENDPOINT, "http://127.0.0.1:4318")
    tracing._tracer.cache_clear()
    try:
        runs.create_run(project, "x", "add a greeting")
        snap = settle(project)
    finally:
        tracing._tracer.cache_clear()
    spans = exporter.get_finished_spans()
    jobs = [s for s in spans if s.name.startswith("dflow.job ")]
    calls = [s for s in spans if s.name.startswith("dflow.engine ")]
    assert [s.name for s in jobs][:2] == ["dflow.job plan", "dflow.job execute"]
    assert len(calls) == 1 + 3 * 2 and {s.name for s in calls} == {"dflow.engine demo"}
    by_id = {s.context.span_id: s for s in jobs}
    for call in calls:  # each engine call runs inside its job's span
        assert call.parent is not None and call.parent.span_id in by_id
    execute = next(s for s in jobs if s.name == "dflow.job execute")
    assert execute.attributes["dflow.run"] == snap.run.id
    assert execute.attributes["dflow.step"] == "1" and execute.attributes["dflow.job"]
    assert calls[0].attributes["dflow.engine"] == "demo"
    assert calls[0].attributes["dflow.phase"] == "plan"
