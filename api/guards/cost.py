"""The cost limit: the most objects a query could return, refused above a budget.

Depth and alias limits cannot see `products(first: 1000) { category { products(first:
1000) } }`: three levels, no alias, and up to a million products. The cost of a
selection is what it could return at worst: each list counts `first` objects (its
default when left out, its largest page when `first` is a variable without a
value), each object field one, and the costs multiply down every path. Fragments
count where they are spread. Scalars and introspection cost nothing; the other
limits bound them.

It is a graphql-core validation rule, so it runs with the others before
execution and costs no SQL; variables are bound into the rule per operation,
because the cost of `first: $n` depends on `$n`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    VariableNode,
    get_named_type,
    is_composite_type,
)
from strawberry.extensions import SchemaExtension

MAX_PAGE = 1000
"""The largest `first` of any list; the cost rule counts a list at this size when it
cannot know better."""

LIST_SIZE = "most_items"
"""Field metadata naming the most items a list without `first` can hold:
`strawberry.field(metadata={LIST_SIZE: 100})`."""


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any],
    *,
    unbounded_list: int,
) -> int:
    """The most objects `operation` could return; a list with neither `first` nor a
    declared size counts as `unbounded_list` items."""
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    defaults = {
        definition.variable.name.value: definition.default_value
        for definition in operation.variable_definitions or ()
    }
    counter = _Counter(schema, fragments, variables, defaults, unbounded_list)
    return counter.selection(root, operation.selection_set)


def expanded_fields(document: DocumentNode) -> int:
    """How many fields `document` holds once every fragment spread is expanded.

    Each fragment is measured once (memoised), so a document that doubles
    itself through thirty fragments is measured in thirty steps, and refused
    before any rule walks it the slow way.
    """
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    sizes: dict[str, int] = {}
    visiting: set[str] = set()

    def size(selection_set: SelectionSetNode | None) -> int:
        total = 0
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, FieldNode):
                total += 1 + size(node.selection_set)
            elif isinstance(node, InlineFragmentNode):
                total += size(node.selection_set)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                if name in fragments and name not in visiting:
                    if name not in sizes:
                        visiting.add(name)
                        sizes[name] = size(fragments[name].selection_set)
                        visiting.discard(name)
                    total += sizes[name]
        return total

    return sum(
        size(definition.selection_set)
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
    )


class _Counter:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        defaults: Mapping[str, Any],
        unbounded_list: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.defaults = defaults
        self.unbounded_list = unbounded_list
        self.fragment_costs: dict[str, int] = {}
        self.visiting: set[str] = set()

    def selection(self, parent: Any, selection_set: SelectionSetNode | None) -> int:
        if selection_set is None or not isinstance(
            parent, GraphQLObjectType | GraphQLInterfaceType
        ):
            return 0
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self.field(parent, node)
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                inner = parent if condition is None else self.schema.get_type(condition.name.value)
                total += self.selection(inner, node.selection_set)
            elif isinstance(node, FragmentSpreadNode):
                total += self.fragment(node.name.value)
        return total

    def fragment(self, name: str) -> int:
        """A fragment's cost, counted once: its type condition fixes what it selects on."""
        fragment = self.fragments.get(name)
        # An unknown or cyclic spread is another rule's error; it adds nothing here.
        if fragment is None or name in self.visiting:
            return 0
        if name not in self.fragment_costs:
            self.visiting.add(name)
            inner = self.schema.get_type(fragment.type_condition.name.value)
            self.fragment_costs[name] = self.selection(inner, fragment.selection_set)
            self.visiting.discard(name)
        return self.fragment_costs[name]

    def field(self, parent: GraphQLObjectType | GraphQLInterfaceType, node: FieldNode) -> int:
        definition = parent.fields.get(node.name.value)
        if definition is None or not is_composite_type(get_named_type(definition.type)):
            return 0  # a scalar, an enum, introspection or an unknown field
        items = self.list_size(definition, node) if _is_list(definition) else 1
        inner = self.selection(get_named_type(definition.type), node.selection_set)
        return items * (1 + inner)

    def list_size(self, definition: GraphQLField, node: FieldNode) -> int:
        if "first" not in definition.args:
            strawberry_field = definition.extensions.get("strawberry-definition")
            metadata = getattr(strawberry_field, "metadata", None) or {}
            return int(metadata.get(LIST_SIZE, self.unbounded_list))
        argument = next((a for a in node.arguments or () if a.name.value == "first"), None)
        if argument is None:
            value = definition.args["first"].default_value
        elif isinstance(argument.value, IntValueNode):
            value = _literal(argument.value)
        elif isinstance(argument.value, VariableNode):
            name = argument.value.name.value
            value = self.variables.get(name)
            default = self.defaults.get(name)
            if value is None and isinstance(default, IntValueNode):
                value = _literal(default)
        else:
            value = None
        # A `first` out of range is refused by its resolver; here it counts as given.
        return value if isinstance(value, int) and value >= 0 else self.unbounded_list


def _literal(node: IntValueNode) -> int:
    """An Int literal's value; past nine digits it is over any budget, however long it is
    (Python refuses to read integers of thousands of digits)."""
    digits = node.value.lstrip("-")
    return int(node.value) if len(digits) <= 9 else 10**9


def _is_list(definition: GraphQLField) -> bool:
    field_type = definition.type
    if isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    return isinstance(field_type, GraphQLList)


def cost_rule(
    variables: Mapping[str, Any], *, budget: int, unbounded_list: int
) -> type[ASTValidationRule]:
    """A validation rule refusing operations whose cost is over `budget`."""

    class QueryCostRule(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.validation_context = context

        def leave_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            # On leaving, so that the errors of the cheaper limits come first.
            context = self.validation_context
            try:
                cost = query_cost(
                    context.schema, context.document, node, variables, unbounded_list=unbounded_list
                )
            except Exception:  # never an unexpected error from a limit: refuse instead
                self.report_error(GraphQLError("the query's cost could not be estimated", node))
                return
            if cost > budget:
                self.report_error(
                    GraphQLError(
                        f"the query could return up to {cost:,} objects, over the cost "
                        f"limit of {budget:,}: ask for smaller pages (`first`)",
                        node,
                    )
                )

    return QueryCostRule


class QueryCost(SchemaExtension):
    """Adds the cost rule, with this operation's variables, to the validation rules."""

    def __init__(self, *, budget: int, unbounded_list: int) -> None:
        self.budget = budget
        self.unbounded_list = unbounded_list

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        rule = cost_rule(
            context.variables or {}, budget=self.budget, unbounded_list=self.unbounded_list
        )
        context.validation_rules = (*context.validation_rules, rule)
        yield
