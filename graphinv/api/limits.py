"""Guards on what one query may ask for, and the per-request figures reported back to the client.

- depth: strawberry's QueryDepthLimiter (introspection fields are not counted);
- size of the document: MaxAliasesLimiter and MaxTokensLimiter;
- cost: an estimate of how many objects the query can return. Every object-typed field counts
  once per parent it can appear under; a field taking `first` multiplies everything below it by
  that `first` (so `shoots(first: 50) { machines(first: 20) { instance { name } } }` costs
  50 + 1000 + 1000); a list without `first` counts as LIST_ESTIMATE parents, except a connection's
  `edges`, whose size its own `first` already counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_composite_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter, SchemaExtension

from graphinv.api.errors import should_mask
from graphinv.api.settings import ApiSettings

LIST_ESTIMATE = 100
MASKED_MESSAGE = "internal error (details are in the server log)"


class QueryCost:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode],
                 variables: VariableValues, max_page: int) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.max_page = max_page

    def of_operation(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(operation.operation)
        return self._selection(operation.selection_set, root, 1, ()) if root else 0

    def _selection(self, selection_set: SelectionSetNode, parent: Any, parents: int,
                   seen: tuple[str, ...]) -> int:
        total = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self._field(node, parent, parents, seen)
            elif isinstance(node, InlineFragmentNode):
                target = self.schema.get_type(node.type_condition.name.value) if node.type_condition else parent
                total += self._selection(node.selection_set, target, parents, seen)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue  # validation has already rejected unknown or cyclic fragments
                target = self.schema.get_type(fragment.type_condition.name.value)
                total += self._selection(fragment.selection_set, target, parents, (*seen, name))
        return total

    def _field(self, node: FieldNode, parent: Any, parents: int, seen: tuple[str, ...]) -> int:
        name = node.name.value
        if name.startswith("__") or not isinstance(parent, GraphQLObjectType):
            return 0
        definition = parent.fields.get(name)
        if definition is None:
            return 0
        named = get_named_type(definition.type)
        if not is_composite_type(named):
            return 0
        kind = definition.type.of_type if isinstance(definition.type, GraphQLNonNull) else definition.type
        if "first" in definition.args:
            args = get_argument_values(definition, node, self.variables)
            fan_out = max(1, min(int(args.get("first") or 1), self.max_page))
        elif isinstance(kind, GraphQLList):
            fan_out = 1 if parent.name.endswith("Connection") else LIST_ESTIMATE
        else:
            fan_out = 1
        here = parents * fan_out
        below = self._selection(node.selection_set, named, here, seen) if node.selection_set else 0
        return here + below


def estimate_cost(schema: GraphQLSchema, document: Any, operation_name: str | None,
                  variables: dict[str, Any] | None, max_page: int) -> int:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    chosen = [op for op in operations if operation_name is None or (op.name and op.name.value == operation_name)]
    if not chosen:
        return 0
    coerced = get_variable_values(schema, chosen[0].variable_definitions or (), variables or {})
    if not isinstance(coerced, VariableValues):
        return 0  # bad variables: execution reports them
    return QueryCost(schema, fragments, coerced, max_page).of_operation(chosen[0])


class CostLimit(SchemaExtension):
    def __init__(self, max_cost: int, max_page: int) -> None:
        self.max_cost = max_cost
        self.max_page = max_page

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.graphql_document is not None and ec.result is None:
            cost = estimate_cost(ec.schema._schema, ec.graphql_document, ec.operation_name, ec.variables,
                                 self.max_page)
            if hasattr(ec.context, "cost"):
                ec.context.cost = cost
            if cost > self.max_cost:
                ec.result = ExecutionResult(data=None, errors=[GraphQLError(
                    f"query too expensive: it may return about {cost} objects, the limit is {self.max_cost}; "
                    "ask for smaller pages (`first`) or fewer nested lists")])
        yield


class RequestFigures(SchemaExtension):
    """`extensions.graphinv` in every response: Neo4j round trips made, and the accepted cost estimate."""

    def get_results(self) -> dict[str, Any]:
        ctx = self.execution_context.context
        db = getattr(ctx, "db", None)
        return {"graphinv": {"roundTrips": getattr(db, "round_trips", None), "cost": getattr(ctx, "cost", None)}}


def extensions_for(settings: ApiSettings) -> list[Callable[[], SchemaExtension]]:
    """Factories, not instances: strawberry then makes fresh extensions per request, so concurrent
    requests never share an extension's execution context."""
    return [
        partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        partial(MaxAliasesLimiter, max_alias_count=settings.max_aliases),
        partial(QueryDepthLimiter, max_depth=settings.max_depth),
        partial(CostLimit, max_cost=settings.max_cost, max_page=settings.max_page_size),
        partial(MaskErrors, should_mask_error=should_mask, error_message=MASKED_MESSAGE),
        RequestFigures,
    ]
