"""Documents sent by hash: Apollo's automatic persisted queries, and trusted documents.

Automatic persisted queries (APQ, Apollo's protocol; `createPersistedQueryLink`
speaks it): a client sends `extensions.persistedQuery = {version: 1,
sha256Hash}` without the text. Known hash: the remembered text runs. Unknown:
the answer is `PERSISTED_QUERY_NOT_FOUND` ("PersistedQueryNotFound", which
the link reads as "send the text too"), and the next request carries both.
The text is remembered under its hash only when the hash is the text's SHA-256
and the document validated: a hash that does not match its text is refused,
and no refused document is kept. What is remembered fits in a byte budget
(`GRAPHQL_PERSISTED_QUERIES_MAX_BYTES`), per process.

Trusted documents (the GraphQL Foundation's advice for first-party frontends):
with a manifest (`GRAPHQL_TRUSTED_DOCUMENTS`, the `{"sha256:<hex>": text}` file
`@graphql-codegen/client-preset` writes), only its documents run; anything else
is `FORBIDDEN`, unless the caller is an admin and
`GRAPHQL_TRUSTED_DOCUMENTS_ADMINS_MAY_SEND_ANY` is set. A document sent as text
is trusted when its SHA-256 is in the manifest, or when it is one of the
manifest's documents written differently: clients add `__typename` where
codegen did not, and codegen sorts fields where clients do not, so both are
compared in a canonical form (`canonical`) that ignores both. That comparison
is what lets a WebSocket subscription, which carries no hash, be checked too.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    parse,
    print_ast,
)
from strawberry.extensions import SchemaExtension

from api.errors import ApiError
from api.guards.byte_budget import ByteBudget
from api.guards.parse_cache import MAX_REMEMBERED_QUERY, Remembered
from domain.errors import ErrorCode

NOT_FOUND_MESSAGE = "PersistedQueryNotFound"
"""The message Apollo's persisted-query link looks for (beside the code)."""
TRUSTED_VERDICTS = 1_024
"""Texts found to be trusted documents written differently, kept by hash (32 bytes each)."""
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_ENTRY_OVERHEAD = 200
"""Bytes an entry of the APQ store costs beyond its text (its key, the map's slot)."""


def _refused(operation_name: str | None) -> DocumentNode:
    """What a refused request runs in place of its document: nothing, validly and under
    the name it asked for, so that the refusal takes the path of every other error
    and gets its code."""
    typename = FieldNode(name=NameNode(value="__typename"))
    operation = OperationDefinitionNode(
        operation=OperationType.QUERY,
        name=NameNode(value=operation_name or "PersistedDocumentRefused"),
        variable_definitions=(),
        directives=(),
        selection_set=SelectionSetNode(selections=(typename,)),
    )
    return DocumentNode(definitions=(operation,))


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def canonical(document: DocumentNode) -> str:
    """The document with its definitions, selections and arguments in order, and no
    unaliased `__typename`: two writings of one operation give the same string."""
    definitions = sorted(_definition(definition) for definition in document.definitions)
    return "\n".join(definitions)


def _definition(node: Any) -> str:
    if isinstance(node, OperationDefinitionNode):
        variables = sorted(print_ast(variable) for variable in node.variable_definitions or ())
        head = " ".join(
            part
            for part in (
                node.operation.value,
                node.name.value if node.name else "",
                f"({', '.join(variables)})" if variables else "",
                _directives(node.directives),
            )
            if part
        )
        return f"{head} {_selections(node.selection_set)}"
    if isinstance(node, FragmentDefinitionNode):
        head = f"fragment {node.name.value} on {node.type_condition.name.value}"
        return f"{head}{_directives(node.directives)} {_selections(node.selection_set)}"
    return print_ast(node)  # a type system definition: never valid in a request anyway


def _directives(directives: tuple[DirectiveNode, ...] | None) -> str:
    return "".join(f" {print_ast(directive)}" for directive in directives or ())


def _selections(selection_set: SelectionSetNode | None) -> str:
    if selection_set is None:
        return ""
    kept = sorted(
        _selection(selection)
        for selection in selection_set.selections
        if not _is_typename(selection)
    )
    return "{" + " ".join(kept) + "}"


def _is_typename(selection: SelectionNode) -> bool:
    return (
        isinstance(selection, FieldNode)
        and selection.name.value == "__typename"
        and selection.alias is None
    )


def _selection(node: SelectionNode) -> str:
    if isinstance(node, FieldNode):
        alias = f"{node.alias.value}: " if node.alias else ""
        arguments = sorted(print_ast(argument) for argument in node.arguments or ())
        listed = f"({', '.join(arguments)})" if arguments else ""
        inner = _selections(node.selection_set)
        return f"{alias}{node.name.value}{listed}{_directives(node.directives)} {inner}".rstrip()
    if isinstance(node, FragmentSpreadNode):
        return f"...{node.name.value}{_directives(node.directives)}"
    assert isinstance(node, InlineFragmentNode)
    on = f" on {node.type_condition.name.value}" if node.type_condition else ""
    return f"...{on}{_directives(node.directives)} {_selections(node.selection_set)}"


@dataclass(frozen=True)
class TrustedDocuments:
    """The manifest: the documents a first-party client may send, by SHA-256."""

    by_hash: Mapping[str, str]
    canonical_forms: frozenset[str]

    @classmethod
    def load(cls, path: Path) -> TrustedDocuments:
        """Reads a manifest; each key must be the SHA-256 of its text (`sha256:` optional)."""
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise ValueError(f"cannot read the trusted documents {path}: {error}") from error
        if not isinstance(manifest, dict) or not manifest:
            raise ValueError(f"{path} must be a JSON object of hash → document, not empty")
        by_hash: dict[str, str] = {}
        for key, text in manifest.items():
            digest = str(key).removeprefix("sha256:")
            if not isinstance(text, str) or sha256_hex(text) != digest:
                raise ValueError(f"{path}: {key} is not the SHA-256 of its document")
            by_hash[digest] = text
        forms = frozenset(canonical(parse(text)) for text in by_hash.values())
        return cls(by_hash=by_hash, canonical_forms=forms)


@runtime_checkable
class KnowsItsRole(Protocol):
    """What this guard asks of an operation's context (`api.graphql.context.Context`)."""

    def is_admin(self) -> bool: ...


@dataclass(frozen=True)
class Resolved:
    """A request's text, and the hash to remember it by once it has validated."""

    text: str | None
    remember_as: str | None = None


class PersistedDocuments:
    """One process's persisted documents: the APQ store and, if set, the manifest."""

    def __init__(
        self,
        *,
        max_bytes: int,
        trusted: TrustedDocuments | None = None,
        admins_may_send_any: bool = False,
    ) -> None:
        self.trusted = trusted
        self.admins_may_send_any = admins_may_send_any
        self.remembered: ByteBudget[str, str] = ByteBudget(
            max_bytes=max_bytes, max_entry_bytes=MAX_REMEMBERED_QUERY + _ENTRY_OVERHEAD
        )
        self._trusted_texts: Remembered[str, bool] = Remembered(TRUSTED_VERDICTS)

    def text_for(self, digest: str) -> str | None:
        """The document known by `digest`: one of the manifest's, or one remembered."""
        if self.trusted is not None and digest in self.trusted.by_hash:
            return self.trusted.by_hash[digest]
        return self.remembered.get(digest)

    def resolve(self, query: str | None, extensions: object) -> Resolved:
        """The text a request runs, from its `query` or its `persistedQuery` hash.

        Raises `ApiError` for a malformed `persistedQuery`, an unknown hash, or a
        hash that is not its text's.
        """
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if persisted is None:
            return Resolved(query)
        digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        if (
            not isinstance(persisted, dict)
            or persisted.get("version") != 1
            or not isinstance(digest, str)
            or not _SHA256_HEX.fullmatch(digest)
        ):
            raise ApiError(
                ErrorCode.VALIDATION,
                "extensions.persistedQuery must be {version: 1, sha256Hash: <64 hex digits>}",
                field="persistedQuery",
            )
        if query is None:
            text = self.text_for(digest)
            if text is None:
                raise ApiError(ErrorCode.PERSISTED_QUERY_NOT_FOUND, NOT_FOUND_MESSAGE)
            return Resolved(text)
        if sha256_hex(query) != digest:
            raise ApiError(
                ErrorCode.VALIDATION,
                "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query",
                field="persistedQuery",
            )
        return Resolved(query, remember_as=digest)

    def remember(self, digest: str, text: str) -> None:
        self.remembered.put(digest, text, len(text.encode()) + _ENTRY_OVERHEAD)

    def admits(self, text: str, document: DocumentNode, caller: object) -> bool:
        """Whether `document` (parsed from `text`) may run for `caller`."""
        if self.trusted is None:
            return True
        digest = sha256_hex(text)
        if digest in self.trusted.by_hash or self._trusted_texts.get(digest):
            return True
        try:
            form = canonical(document)
        except RecursionError:  # nested past any manifest's document
            form = None
        if form is not None and form in self.trusted.canonical_forms:
            self._trusted_texts.put(digest, True)
            return True
        return self.admins_may_send_any and isinstance(caller, KnowsItsRole) and caller.is_admin()


class PersistedDocumentsGuard(SchemaExtension):
    """Runs a request's persisted document, and only trusted ones in that mode.

    First of the schema's extensions: the others see the text it resolved. An
    error raised in a hook would escape `ErrorCodes`, so a refusal runs a
    placeholder document instead and leaves its error where validation errors go.
    """

    def __init__(self, *, documents: PersistedDocuments) -> None:
        self.documents = documents

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        self._refusal: ApiError | None = None
        self._remember_as: str | None = None
        try:
            resolved = self.documents.resolve(context.query, context.operation_extensions)
        except ApiError as refusal:
            self._refusal = refusal
            context.query = None
            context.graphql_document = _refused(context.operation_name)
        else:
            context.query, self._remember_as = resolved.text, resolved.remember_as
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        refusal = self._refusal
        if (
            refusal is None
            and context.query is not None
            and context.graphql_document is not None
            and not self.documents.admits(context.query, context.graphql_document, context.context)
        ):
            refusal = ApiError(
                ErrorCode.FORBIDDEN,
                "only trusted documents run here, and this is not one of them: "
                "add it to the client's operations and deploy their manifest",
            )
        if refusal is not None:
            context.pre_execution_errors = [GraphQLError(refusal.message, original_error=refusal)]
        yield
        if self._remember_as is not None and context.query and not context.pre_execution_errors:
            self.documents.remember(self._remember_as, context.query)
