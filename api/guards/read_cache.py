"""Whole responses to public catalog queries, kept in the process until the catalog changes.

The seed kept hot catalog reads in ETS; this is that cache for the GraphQL
API. A hit skips GraphQL execution itself (parsing aside, which is cached
anyway), not only SQL: that is what it costs to answer a list of a hundred
products faster than Strawberry can build one.

What is cached: queries whose every root field is a catalog read anyone may
make (`CATALOG_FIELDS`), selecting nothing an asynchronous projection writes
(`ASYNC_FIELDS`), answered without errors. Keyed by tenant, role, document,
operation name and variables.

When an entry stops being served:
- a command of its tenant commits: the writer's NOTIFY names the tenant, and
  the process's one LISTEN connection tells the cache (`invalidate`);
- this process serves a mutation of that tenant, before answering it, so a
  client reads its own writes here even if the NOTIFY is late;
- the listener's connection was lost (notifications may have been missed): all;
- `seconds` after it was stored, as a safety net.

Across API processes, an entry is as fresh as the NOTIFY (milliseconds after
the commit, before a mutation's answer has travelled back through Temporal).
Each entry remembers the tenant's generation when its query began, so an
answer that raced a write is never stored over the invalidation.
"""

from __future__ import annotations

import enum
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from graphql import (
    DocumentNode,
    FieldNode,
    OperationDefinitionNode,
    OperationType,
    Visitor,
    get_operation_ast,
    visit,
)
from pydantic_core import to_json
from strawberry.extensions import SchemaExtension
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from api.guards.parse_cache import MAX_REMEMBERED_QUERY, Remembered

CATALOG_FIELDS = frozenset({"products", "product", "categories", "category", "__typename"})
"""Root query fields that read the public catalog (the same for every caller of a tenant)."""

ASYNC_FIELDS = frozenset({"priceHistory"})
"""Fields written by the projector, which sends no NOTIFY: never cached."""


class Kind(enum.Enum):
    CATALOG_READ = "catalog read"
    MUTATION = "mutation"
    OTHER = "other"


def kind_of(document: DocumentNode, operation_name: str | None) -> Kind:
    """What an operation of a document does, as far as the cache cares."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return Kind.OTHER
    if operation.operation is OperationType.MUTATION:
        return Kind.MUTATION
    if operation.operation is not OperationType.QUERY or not _catalog_only(operation):
        return Kind.OTHER
    return Kind.OTHER if _selects_async_fields(document) else Kind.CATALOG_READ


class ClassifyOperations(SchemaExtension):
    """Tells the HTTP view (through the context) what kind of operation it is serving.

    Runs after validation, on the parsed document; remembered per document text
    and operation name, since parsed documents are cached by text too.
    """

    _known: ClassVar[Remembered[tuple[str, str | None], Kind]] = Remembered(256)

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        holder = context.context
        if document is not None and context.query and hasattr(holder, "operation_kind"):
            key = (context.query, context.operation_name)
            kind = self._known.get(key)
            if kind is None:
                kind = kind_of(document, context.operation_name)
                if len(context.query) <= MAX_REMEMBERED_QUERY:  # texts are kept as keys
                    self._known.put(key, kind)
            holder.operation_kind = kind
        yield


def _catalog_only(operation: OperationDefinitionNode) -> bool:
    return all(
        isinstance(selection, FieldNode) and selection.name.value in CATALOG_FIELDS
        for selection in operation.selection_set.selections
    )


def _selects_async_fields(document: DocumentNode) -> bool:
    found = False

    class FindAsync(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            nonlocal found
            found = found or node.name.value in ASYNC_FIELDS

    visit(document, FindAsync())
    return found


@dataclass(frozen=True, slots=True)
class _Entry:
    generation: int
    expires: float
    data: dict[str, object]
    size: int
    """Bytes of the answer as JSON."""


class ReadCache:
    """A bounded, least-recently-used map of responses, invalidated per tenant.

    Bounded twice: `entries` answers, and `max_bytes` of them as JSON (a
    thousand different pages of a thousand products each must not take a
    gigabyte; in memory, as Python objects, they take about four times their
    JSON); an answer larger than a tenth of `max_bytes` is not kept.
    """

    def __init__(self, *, entries: int, seconds: float, max_bytes: int = 8_000_000) -> None:
        self.entries = entries
        self.seconds = seconds
        self.max_bytes = max_bytes
        self._bytes = 0
        self._stored: OrderedDict[tuple[str, str, str], _Entry] = OrderedDict()
        self._generations: dict[str, int] = {}
        self._epoch = 0
        """Bumped by `invalidate(None)`: every tenant's entries go at once."""

    @staticmethod
    def key(
        tenant: str, role: str, query: str, operation_name: str | None, variables: object
    ) -> tuple[str, str, str]:
        request = json.dumps([query, operation_name, variables], sort_keys=True)
        return tenant, role, hashlib.sha256(request.encode()).hexdigest()

    def generation(self, tenant: str) -> int:
        """Read before executing; pass to `put`, which refuses an answer older than a write."""
        return self._epoch + self._generations.get(tenant, 0)

    def get(self, key: tuple[str, str, str]) -> dict[str, object] | None:
        entry = self._stored.get(key)
        if entry is None:
            return None
        if entry.generation != self.generation(key[0]) or entry.expires < time.monotonic():
            self._forget(key)
            return None
        self._stored.move_to_end(key)
        return entry.data

    def put(self, key: tuple[str, str, str], generation: int, data: dict[str, object]) -> bool:
        """Keep `data` unless its tenant changed since `generation` was read."""
        if self.entries <= 0 or generation != self.generation(key[0]):
            return False
        size = len(to_json(data))
        if size > self.max_bytes // 10:
            return False
        self._forget(key)
        self._stored[key] = _Entry(generation, time.monotonic() + self.seconds, data, size)
        self._bytes += size
        while len(self._stored) > self.entries or self._bytes > self.max_bytes:
            self._forget(next(iter(self._stored)))
        return True

    def _forget(self, key: tuple[str, str, str]) -> None:
        entry = self._stored.pop(key, None)
        if entry is not None:
            self._bytes -= entry.size

    def invalidate(self, tenant: str | None) -> None:
        """Forget `tenant`'s entries (every tenant's, for None)."""
        if tenant is None:
            # Generations only grow, so no stored entry can match again.
            self._epoch += 1 + max(self._generations.values(), default=0)
            self._generations.clear()
            self._stored.clear()
            self._bytes = 0
            return
        self._generations[tenant] = self._generations.get(tenant, 0) + 1

    def __len__(self) -> int:
        return len(self._stored)

    @property
    def size(self) -> int:
        """Bytes of the kept answers, as JSON."""
        return self._bytes


async def answer_through(
    cache: ReadCache,
    *,
    scope: tuple[str, str],
    request: GraphQLRequestData,
    execute: Callable[[], Awaitable[ExecutionResult]],
    kind: Callable[[], Kind],
    counted: Callable[[str], object],
) -> ExecutionResult:
    """Answer one GraphQL request from `cache`, or `execute` it and keep what may be kept.

    `scope` is the caller's (tenant, role); `kind` tells, once executed, what the
    operation was (`ClassifyOperations` sets it); `counted` hears "hit" or "miss".
    A mutation that succeeded empties its tenant's entries before its answer
    leaves, so this client's next read here sees its write.
    """
    tenant, role = scope
    key = cache.key(tenant, role, request.query or "", request.operation_name, request.variables)
    cached = cache.get(key)
    if cached is not None:
        counted("hit")
        return ExecutionResult(data=cached, errors=None)
    generation = cache.generation(tenant)
    result = await execute()
    operation = kind()
    if operation is Kind.CATALOG_READ:
        counted("miss")
        if not result.errors and result.data is not None:
            cache.put(key, generation, result.data)
    elif operation is Kind.MUTATION and not result.errors and role != "anonymous":
        # Only a write that happened: a refused one (anyone can send those, for
        # any tenant) must not empty a tenant's cache.
        cache.invalidate(tenant)
    return result
