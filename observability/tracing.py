"""OpenTelemetry: one trace from the GraphQL request through the workflow into SQL.

Spans are made everywhere (API operations, Temporal client and worker calls,
SQL statements, HTTP calls to the payment provider); they are exported only
when a tracer provider is configured, which `configure_tracing` does when
OTEL_EXPORTER_OTLP_ENDPOINT is set. The standard OTEL_* variables configure
the exporter.
"""

from __future__ import annotations

import httpx
from opentelemetry import metrics, propagate, trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine


def configure_tracing(
    service_name: str, *, otlp_endpoint: str | None, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """Install the process's tracer provider; without an endpoint or exporter, tracing is off."""
    if exporter is None and not otlp_endpoint:
        return None
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def instrument_engine(engine: AsyncEngine) -> None:
    """A span for every SQL statement this engine runs, under the current span."""
    connections = metrics.get_meter("shop.sql").create_up_down_counter(
        "db.client.connections.usage", unit="connections"
    )
    EngineTracer(  # type: ignore[no-untyped-call]
        trace.get_tracer("shop.sql"), engine.sync_engine, connections
    )


def instrument_http_client(client: httpx.AsyncClient) -> None:
    """A span for every call this client makes, with the trace passed on in its headers."""
    HTTPXClientInstrumentor.instrument_client(client)


def trace_context() -> dict[str, str]:
    """The current trace as W3C headers, to store beside the events a span causes."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def current_trace_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span, as hex, or None outside any trace."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
