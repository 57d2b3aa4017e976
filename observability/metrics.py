"""Prometheus metrics of our own code (the Temporal SDK exports its own)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from strawberry.extensions import SchemaExtension

TEMPORAL_SDK_METRICS = (
    "temporal_workflow_completed",
    "temporal_activity_execution_latency",
)
"""Series of the Temporal SDK's exporter that dashboards rely on (checked by the tests)."""

SAGA_METRICS = (
    "order_sagas_started",
    "order_sagas_confirmed",
    "order_sagas_compensated",
    "order_sagas_failed",
)
"""Counters `OrderSaga` records through the workflow's replay-safe metric meter."""


@dataclass(frozen=True)
class ApiMetrics:
    operations: Counter
    errors: Counter
    latency: Histogram
    read_cache: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ApiMetrics:
        return cls(
            operations=Counter(
                "graphql_operations",
                "GraphQL operations served, by operation name and type.",
                ["operation", "type"],
                registry=registry,
            ),
            errors=Counter(
                "graphql_errors",
                "Errors in GraphQL responses, by operation name and error code.",
                ["operation", "code"],
                registry=registry,
            ),
            latency=Histogram(
                "graphql_operation_seconds",
                "Time to answer a GraphQL operation, by operation name and type.",
                ["operation", "type"],
                registry=registry,
            ),
            read_cache=Counter(
                "graphql_read_cache_lookups",
                "Catalog queries looked up in the read cache, by outcome (hit or miss).",
                ["outcome"],
                registry=registry,
            ),
        )


MAX_OPERATION_NAMES = 100
"""Distinct operation names labelled; later ones count as `other`, so series stay bounded."""

ERROR_CODES = frozenset(
    {"VALIDATION", "NOT_FOUND", "CONFLICT", "OUT_OF_STOCK", "UNAUTHENTICATED", "FORBIDDEN"}
)


class OperationNames:
    """Client-chosen operation names as metric labels, at most `limit` of them."""

    def __init__(self, limit: int = MAX_OPERATION_NAMES) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def label(self, name: str | None) -> str:
        if name is None:
            return "anonymous"
        name = name[:100]
        if name in self._seen:
            return name
        if len(self._seen) >= self._limit:
            return "other"
        self._seen.add(name)
        return name


def graphql_metrics_extension(metrics: ApiMetrics) -> type[SchemaExtension]:
    """A Strawberry extension class recording `metrics` for every operation."""
    names = OperationNames()

    class GraphQLMetrics(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            started = time.perf_counter()
            yield
            context = self.execution_context
            name = names.label(context.operation_name)
            try:
                kind = context.operation_type.value
            except RuntimeError:  # the document did not parse
                kind = "invalid"
            metrics.operations.labels(name, kind).inc()
            metrics.latency.labels(name, kind).observe(time.perf_counter() - started)
            for error in getattr(context.result, "errors", None) or ():
                code = (error.extensions or {}).get("code")
                metrics.errors.labels(name, code if code in ERROR_CODES else "INTERNAL").inc()

    return GraphQLMetrics


@dataclass(frozen=True)
class ProjectorMetrics:
    applied: Counter
    lag_events: Gauge
    lag_seconds: Gauge
    horizon_held_seconds: Gauge
    parked_events: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ProjectorMetrics:
        return cls(
            applied=Counter(
                "projector_events_applied",
                "Events applied by an asynchronous projection.",
                ["projection"],
                registry=registry,
            ),
            lag_events=Gauge(
                "projector_lag_events",
                "Settled events a projection has not applied yet (counted up to 10,000).",
                ["projection"],
                registry=registry,
            ),
            lag_seconds=Gauge(
                "projector_lag_seconds",
                "Age of the oldest settled event a projection has not applied yet.",
                ["projection"],
                registry=registry,
            ),
            parked_events=Gauge(
                "projector_parked_events",
                "Events a projection could not apply and set aside (shop projections retry).",
                ["projection"],
                registry=registry,
            ),
            horizon_held_seconds=Gauge(
                "projector_horizon_held_seconds",
                "How long the oldest open writing transaction has held every follower back "
                "(0 when none is open); lag counts only settled events, so it cannot show this.",
                registry=registry,
            ),
        )
