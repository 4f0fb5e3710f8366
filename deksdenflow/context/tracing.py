"""OpenTelemetry spans per job and per engine call — only when asked for and installed.

With `OTEL_EXPORTER_OTLP_ENDPOINT` set and the `otel` extra installed
(`pip install deksdenflow[otel]`), each job and each engine call is a span exported over
OTLP/HTTP (the SDK reads the endpoint, headers and service name from the standard OTEL_*
variables). Otherwise `span` is an empty context manager and nothing of OpenTelemetry is
imported (decision 1225).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..domain import correlation

ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
SERVICE = "dflow"


@contextmanager
def span(name: str, **attributes: object) -> Iterator[None]:
    """A span around the block, carrying the correlation ids and `attributes` (no-op when
    tracing is off)."""
    tracer = _tracer(os.environ.get(ENDPOINT, ""))
    if tracer is None:
        yield
        return
    values = {f"dflow.{k}": v for k, v in {**correlation.ids(), **attributes}.items()
              if v is not None}
    with tracer.start_as_current_span(name, attributes={
            k: v if isinstance(v, bool | int | float | str) else str(v)
            for k, v in values.items()}):
        yield


@functools.lru_cache(maxsize=2)
def _tracer(endpoint: str) -> Any:
    """The tracer for this process, set up once per endpoint; None when tracing is off."""
    if not endpoint:
        return None
    try:  # why: optional (the otel extra), and start-up
        from opentelemetry import trace  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    unset = isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    if unset and not _install_provider(trace):
        return None
    return trace.get_tracer("deksdenflow")


def _install_provider(trace: Any) -> bool:
    """An OTLP/HTTP exporting provider, unless the application already installed one."""
    try:  # why: optional (the otel extra), and start-up
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found, unused-ignore]
            OTLPSpanExporter,
        )
        from opentelemetry.sdk.resources import Resource  # type: ignore[import-not-found, unused-ignore]
        from opentelemetry.sdk.trace import TracerProvider  # type: ignore[import-not-found, unused-ignore]
        from opentelemetry.sdk.trace.export import BatchSpanProcessor  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return False
    named = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": SERVICE}
    provider = TracerProvider(resource=Resource.create(named))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return True
