"""`dflow metrics`: the Prometheus text exposition of the ledger (prometheus_client).

prometheus_client is imported inside these functions only: the CLI's start-up never pays it.
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .ledger import Ledger

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

STEP_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
RUN_BUCKETS = (60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0, 604800.0)

Key = tuple[str, ...]


def exposition(book: Ledger) -> bytes:
    """The text format, ready to serve or write."""
    from prometheus_client import generate_latest  # why: start-up

    return bytes(generate_latest(_registry(lambda: book)))


def serve(read: Callable[[], Ledger], host: str, port: int) -> tuple[Any, Any]:
    """Serve /metrics on host:port in a daemon thread; every scrape reads the ref afresh.
    Returns (server, thread); the caller shuts the server down."""
    from prometheus_client import start_http_server  # why: start-up

    return start_http_server(port, addr=host, registry=_registry(read))


def _registry(read: Callable[[], Ledger]) -> Any:
    from prometheus_client import CollectorRegistry  # why: start-up

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(read))
    return registry


def write_textfile(book: Ledger, path: Path) -> None:
    """Write atomically (temp file + rename in the same directory), as node_exporter's
    textfile collector requires: it must never read half a file."""
    data = exposition(book)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _Collector:
    def __init__(self, read: Callable[[], Ledger]) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        book = self.read()
        yield from _runs(book)
        yield from _jobs(book)
        yield from _spend(book)
        yield from _durations(book)


def _sum(rows: Iterable[tuple[Key, float]]) -> dict[Key, float]:
    out: dict[Key, float] = defaultdict(float)
    for key, value in rows:
        out[key] += value
    return out


def _family(kind: str, name: str, doc: str, labels: list[str],
            values: dict[Key, float]) -> Metric:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily  # why: start-up

    cls: Any = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
    family = cls(name, doc, labels=labels)
    for key in sorted(values):
        family.add_metric(list(key), values[key])
    return family  # type: ignore[no-any-return]


def _runs(book: Ledger) -> Iterator[Metric]:
    p = book.project
    yield _family("gauge", "dflow_runs", "Protocol runs by status.", ["project", "status"],
                  _sum(((p, r.status), 1) for r in book.runs))


def _jobs(book: Ledger) -> Iterator[Metric]:
    p = book.project
    yield _family("counter", "dflow_jobs", "Jobs by kind and status (closed jobs as the run "
                  "snapshots keep them).", ["project", "kind", "status"],
                  _sum(((p, j.kind, j.status), 1) for j in book.jobs))
    yield _family("counter", "dflow_job_errors", "Failed job attempts by kind, engine and model.",
                  ["project", "kind", "engine", "model"],
                  _sum(((p, j.kind, j.engine, j.model), j.failures) for j in book.jobs))


SPEND_LABELS = ["project", "engine", "model", "variant", "step_type"]


def _spend(book: Ledger) -> Iterator[Metric]:
    p = book.project
    rows = [((p, s.engine, s.model, s.variant, s.step_type), s) for s in book.spends]
    yield _family("counter", "dflow_tokens", "Tokens used (input + output).", SPEND_LABELS,
                  _sum((k, s.tokens) for k, s in rows))
    yield _family("counter", "dflow_input_tokens", "Input tokens used.", SPEND_LABELS,
                  _sum((k, s.input_tokens) for k, s in rows))
    yield _family("counter", "dflow_output_tokens", "Output tokens used.", SPEND_LABELS,
                  _sum((k, s.output_tokens) for k, s in rows))
    yield _family("counter", "dflow_cost", "Cost reported by the engines (USD).", SPEND_LABELS,
                  _sum((k, s.cost) for k, s in rows))
    yield _family("counter", "dflow_step_attempts", "Step attempts.", SPEND_LABELS,
                  _sum((k, s.attempts) for k, s in rows if s.attempts))
    yield _family("counter", "dflow_step_errors", "Step attempts that failed.", SPEND_LABELS,
                  _sum((k, s.failures) for k, s in rows if s.failures))
    verdicts = [((*k, "PASS"), s.qa_passes) for k, s in rows if s.qa_passes]
    verdicts += [((*k, "FAIL"), s.qa_fails) for k, s in rows if s.qa_fails]
    yield _family("counter", "dflow_qa_verdicts", "QA verdicts on steps.",
                  [*SPEND_LABELS, "verdict"], _sum(verdicts))


def _durations(book: Ledger) -> Iterator[Metric]:
    p = book.project
    steps: dict[Key, list[float]] = defaultdict(list)
    for s in book.spends:
        if s.attempts:
            steps[(p, s.engine, s.model, s.step_type)].append(s.duration_s)
    yield _histogram("dflow_step_duration_seconds", "Time spent in a step's attempts.",
                     ["project", "engine", "model", "step_type"], steps, STEP_BUCKETS)
    runs: dict[Key, list[float]] = defaultdict(list)
    for r in book.runs:
        if r.terminal and r.duration_s is not None:
            runs[(p, r.status)].append(r.duration_s)
    yield _histogram("dflow_run_duration_seconds", "Created to finished, for finished runs.",
                     ["project", "status"], runs, RUN_BUCKETS)


def _histogram(name: str, doc: str, labels: list[str], values: dict[Key, list[float]],
               bounds: tuple[float, ...]) -> Metric:
    from prometheus_client.core import HistogramMetricFamily  # why: start-up
    family = HistogramMetricFamily(name, doc, labels=labels)
    for key in sorted(values):
        observed = values[key]
        buckets = [(repr(b), float(sum(1 for v in observed if v <= b)))
                   for b in bounds]
        buckets.append(("+Inf", float(len(observed))))
        family.add_metric(list(key), buckets, sum_value=sum(observed))
    return family
