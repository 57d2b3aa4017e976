"""Whether a new GraphQL schema keeps every client of the old one working.

A frontend team learns of a change from the schema its tooling reads, so a
field, an argument or an enum value may only go after a release in which it
was deprecated (`@deprecated(reason: "Use … instead.")`, with its replacement
beside it): their editors and linters flagged every use in the meantime.
Anything else that graphql-core calls breaking (a type removed, a field's type
narrowed, a required argument added) is refused outright. Dangerous changes
(an enum value added, a default changed) are allowed and listed, since a
client that switches over every value may need to know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from graphql import (
    BreakingChange,
    BreakingChangeType,
    DangerousChange,
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
    find_schema_changes,
    get_named_type,
)

# How graphql-core names the removals a deprecation can announce.
_FIELD_REMOVED = re.compile(r"Field (\w+)\.(\w+) was removed\.")
_ARG_REMOVED = re.compile(r"Argument (\w+)\.(\w+)\((\w+):\) was removed\.")
_ENUM_VALUE_REMOVED = re.compile(r"Enum value (\w+)\.(\w+) was removed\.")
_TYPE_REMOVED = re.compile(r"(\w+) was removed\.")

Member = GraphQLField | GraphQLInputField | GraphQLArgument | GraphQLEnumValue


@dataclass(frozen=True)
class SchemaChanges:
    """What changed from an old schema to a new one, for its clients."""

    breaking: list[str] = field(default_factory=list)
    """Changes that break a client of the old schema with no warning: refused."""
    retired: list[str] = field(default_factory=list)
    """Removals of what the old schema had deprecated: allowed."""
    dangerous: list[str] = field(default_factory=list)
    """Changes that may surprise a client without breaking its queries: listed."""


def compare(old_sdl: str, new_sdl: str) -> SchemaChanges:
    """Classify the changes from `old_sdl` to `new_sdl` (both as `shop schema` prints them).

    `find_schema_changes` is graphql-core's one-pass form of
    `find_breaking_changes` and `find_dangerous_changes`.
    """
    old = build_schema(old_sdl)
    changes = SchemaChanges()
    for change in find_schema_changes(old, build_schema(new_sdl)):
        if isinstance(change, BreakingChange):
            if _announced(old, change):
                changes.retired.append(change.description)
            else:
                changes.breaking.append(change.description)
        elif isinstance(change, DangerousChange):
            changes.dangerous.append(change.description)
    return changes


def _announced(old: GraphQLSchema, change: BreakingChange) -> bool:
    """Was what `change` removes deprecated in the old schema?

    A type cannot be deprecated; it goes with the last deprecated member that used it.
    """
    if change.type is BreakingChangeType.TYPE_REMOVED and (
        found := _TYPE_REMOVED.fullmatch(change.description)
    ):
        users = _users_of(old, found[1])
        return users is not None and all(bool(user.deprecation_reason) for user in users)
    removed = _removed_member(old, change)
    return removed is not None and bool(removed.deprecation_reason)


def _users_of(old: GraphQLSchema, type_name: str) -> list[Member] | None:
    """Every field, input field and argument of `old` whose type is `type_name`;
    None when a union or an interface's implementations refer to it (no deprecation can)."""
    users: list[Member] = []
    for named in old.type_map.values():
        if isinstance(named, GraphQLUnionType) and any(t.name == type_name for t in named.types):
            return None
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            if any(i.name == type_name for i in named.interfaces):
                return None
            for field_ in named.fields.values():
                if get_named_type(field_.type).name == type_name:
                    users.append(field_)
                users += [
                    a for a in field_.args.values() if get_named_type(a.type).name == type_name
                ]
        if isinstance(named, GraphQLInputObjectType):
            users += [f for f in named.fields.values() if get_named_type(f.type).name == type_name]
    return users


def _removed_member(old: GraphQLSchema, change: BreakingChange) -> Member | None:
    description = change.description
    if change.type is BreakingChangeType.FIELD_REMOVED and (
        found := _FIELD_REMOVED.fullmatch(description)
    ):
        owner = old.get_type(found[1])
        if isinstance(owner, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            member: Member | None = owner.fields.get(found[2])
            return member
    if change.type is BreakingChangeType.ARG_REMOVED and (
        found := _ARG_REMOVED.fullmatch(description)
    ):
        owner = old.get_type(found[1])
        if isinstance(owner, GraphQLObjectType | GraphQLInterfaceType):
            holder = owner.fields.get(found[2])
            return holder.args.get(found[3]) if holder is not None else None
    if change.type is BreakingChangeType.VALUE_REMOVED_FROM_ENUM and (
        found := _ENUM_VALUE_REMOVED.fullmatch(description)
    ):
        owner = old.get_type(found[1])
        if isinstance(owner, GraphQLEnumType):
            value: GraphQLEnumValue | None = owner.values.get(found[2])
            return value
    return None


def report(changes: SchemaChanges) -> list[str]:
    """Lines for a person: what is refused and what to do, then what is merely noted."""
    lines = [f"breaking: {description}" for description in changes.breaking]
    if changes.breaking:
        lines.append(
            "a client of the old schema would break with no warning: keep the old field "
            '(argument, enum value) beside the new one with @deprecated(reason: "Use … '
            'instead.") for a release, and remove it only after that'
        )
    lines += [f"retired after its deprecation: {d}" for d in changes.retired]
    lines += [f"dangerous: {description}" for description in changes.dangerous]
    return lines
