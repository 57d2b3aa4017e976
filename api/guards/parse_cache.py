"""Parsed and validated documents, remembered: a client sends the same few queries.

Parsing depends on the text alone (Strawberry's `ParserCache`). Validation
depends on the document, the rules and, through the cost rule, the
variables (`first: $n` costs what `$n` says), so it is remembered per
document, variables and set of rules. The rules differ between callers
(introspection is refused to anonymous ones), and their names tell them
apart: every other setting of a rule is fixed for the process.

Both run after the checks that keep a hostile document from reaching the
validation rules at all (`api.guards.limits`): one they refused is never validated,
nor remembered.
"""

from __future__ import annotations

import contextlib
import json
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import ClassVar, Generic, TypeVar

from graphql import DocumentNode, GraphQLError
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.schema.schema import validate_document

PARSED_DOCUMENTS = 256
"""Distinct query texts whose parsed documents are kept (least recently used go first)."""
VALIDATED_OPERATIONS = 512
"""Distinct (document, variables, rules) whose validation errors are kept."""
MAX_REMEMBERED_VARIABLES = 4_096
"""Longer variables (as JSON) are validated every time rather than kept."""
MAX_REMEMBERED_QUERY = 10_000
"""Longer query texts (comments do not count as tokens) are parsed and validated every
time: a parsed document keeps its text, and these caches must stay small."""

_Key = tuple[int, int, str, tuple[str, ...]]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Remembered(Generic[K, V]):
    """A map of at most `size` entries; the least recently used goes first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class CachedParsing(ParserCache):
    """Strawberry's parser cache, leaving documents that do not parse to Strawberry.

    Its parse errors then take the usual path (a response with coded errors),
    where an error raised inside an extension's hook would escape it.
    """

    def __init__(self) -> None:
        super().__init__(maxsize=PARSED_DOCUMENTS)

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query and len(context.query) <= MAX_REMEMBERED_QUERY:
            with contextlib.suppress(GraphQLError):
                context.graphql_document = self.cached_parse_document(
                    context.query, **context.parse_options
                )
        yield


class CachedValidation(SchemaExtension):
    """graphql-core's validation, run once per document, variables and rules.

    Must come after every extension that adds rules (on the operation) or
    refuses a document before validation (on validation): it validates only
    what none of them refused, with the rules they left.
    """

    _known: ClassVar[Remembered[_Key, tuple[DocumentNode, list[GraphQLError]]]] = Remembered(
        VALIDATED_OPERATIONS
    )

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        rules = tuple(context.validation_rules)
        if context.pre_execution_errors is None and document is not None and rules:
            key = _key(context.schema, document, context.query, context.variables, rules)
            known = None if key is None else self._known.get(key)
            if known is not None and known[0] is document:
                errors = known[1]
            else:
                errors = validate_document(context.schema._schema, document, rules)
                if key is not None:
                    # The document is kept with its errors: `id` alone could be reused.
                    self._known.put(key, (document, errors))
            context.pre_execution_errors = list(errors)
        yield


def _key(
    schema: object,
    document: DocumentNode,
    query: str | None,
    variables: object,
    rules: tuple[type, ...],
) -> _Key | None:
    """What a validation depends on; None when it is not to be remembered.

    The schema is part of it: the rules' settings (the cost budget, the depth)
    are its, and parsed documents are shared by every schema in the process.
    """
    if query is None or len(query) > MAX_REMEMBERED_QUERY:
        return None
    try:
        text = json.dumps(variables or {}, sort_keys=True)
    except (TypeError, ValueError):
        return None
    if len(text) > MAX_REMEMBERED_VARIABLES:
        return None
    return id(schema), id(document), text, tuple(rule.__qualname__ for rule in rules)
