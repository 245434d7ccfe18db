"""Guards on what one query may ask for, and the per-request figures reported back to the client.

- size of the document: MaxTokensLimiter while parsing, then, before any validation rule runs, the
  expanded selection size and the depth (fragments counted as often as they are spread, but each
  fragment measured once, so `...A ...A ...A` ten levels deep is refused at once instead of being
  expanded by the validation rules); MaxAliasesLimiter;
- validation runs on a worker thread within the request's time budget, so even an expensive
  document never holds the event loop that answers /healthz and the other requests;
- cost: an estimate of how many objects the query can return. Every object-typed field counts
  once per parent it can appear under; a field taking `first` multiplies everything below it by
  that `first` (so `shoots(first: 50) { machines(first: 20) { instance { name } } }` costs
  50 + 1000 + 1000); a list without `first` counts as LIST_ESTIMATE parents, except a connection's
  `edges`, whose size its own `first` already counted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from graphql import (
    DocumentNode,
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
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, SchemaExtension
from strawberry.schema.schema import validate_document

from graphinv.api.compiled import CompiledQueries
from graphinv.api.errors import should_mask
from graphinv.api.settings import ApiSettings

LIST_ESTIMATE = 100
# Fields a document may select once its fragments are expanded (GraphiQL's introspection query has ~300).
MAX_SELECTIONS = 5000
MASKED_MESSAGE = "internal error (details are in the server log)"


class QueryCost:
    """Linear in the parents' count, so each fragment's cost per parent is computed once per type."""

    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode],
                 variables: VariableValues, max_page: int) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.max_page = max_page
        self._memo: dict[tuple[str, str], int] = {}

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
                    continue  # validation rejects unknown or cyclic fragments
                target = self.schema.get_type(fragment.type_condition.name.value)
                key = (name, getattr(parent, "name", ""))
                if key not in self._memo:
                    self._memo[key] = self._selection(fragment.selection_set, target, 1, (*seen, name))
                total += parents * self._memo[key]
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


@dataclass
class Shape:
    selections: int  # fields the document selects once every fragment spread is expanded
    depth: int  # deepest field nesting, introspection fields not counted


def document_shape(document: DocumentNode) -> Shape:
    """Expanded size and depth of every operation, each fragment measured once (memoised)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    memo: dict[str, tuple[int, int]] = {}
    active: set[str] = set()

    def measure(selection_set: SelectionSetNode | None) -> tuple[int, int]:
        size = depth = 0
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, FieldNode):
                below, deeper = measure(node.selection_set)
                size += 1 + below
                if not node.name.value.startswith("__"):
                    depth = max(depth, 1 + deeper)
            elif isinstance(node, InlineFragmentNode):
                below, deeper = measure(node.selection_set)
                size, depth = size + below, max(depth, deeper)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                if name not in memo:
                    if name in active or name not in fragments:
                        continue  # a cycle or an unknown fragment: validation reports it
                    active.add(name)
                    memo[name] = measure(fragments[name].selection_set)
                    active.discard(name)
                below, deeper = memo[name]
                size, depth = size + below, max(depth, deeper)
        return size, depth

    total = deepest = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            size, depth = measure(definition.selection_set)
            total, deepest = total + size, max(deepest, depth)
    return Shape(total, deepest)


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


# Validation of one document on its own threads: a slow one never holds the event loop.
_VALIDATION_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="graphql-validate")


class BoundedValidation(SchemaExtension):
    """Refuses an oversized or too deep document before any validation rule sees it, then runs the
    validation rules on a worker thread within what is left of the request's time budget."""

    def __init__(self, max_depth: int, max_selections: int, timeout_seconds: float) -> None:
        self.max_depth = max_depth
        self.max_selections = max_selections
        self.timeout_seconds = timeout_seconds

    def _refuse(self, message: str) -> None:
        self.execution_context.pre_execution_errors = [GraphQLError(message)]

    async def on_validate(self) -> AsyncIterator[None]:
        ec = self.execution_context
        document = ec.graphql_document
        if document is not None and ec.pre_execution_errors is None:
            shape = document_shape(document)
            if shape.selections > self.max_selections:
                self._refuse(f"query too large: it selects {shape.selections} fields once its fragments are "
                             f"expanded, the limit is {self.max_selections}")
            elif shape.depth > self.max_depth:
                self._refuse(f"query too deep: depth {shape.depth} exceeds maximum operation depth of {self.max_depth}")
            else:
                await self._validate(document)
        yield

    async def _validate(self, document: DocumentNode) -> None:
        ec = self.execution_context
        deadline = getattr(getattr(ec.context, "db", None), "deadline", None)
        budget = deadline - time.monotonic() if deadline is not None else self.timeout_seconds
        rules = tuple(ec.validation_rules)
        work = asyncio.get_running_loop().run_in_executor(
            _VALIDATION_POOL, validate_document, ec.schema._schema, document, rules)
        try:
            ec.pre_execution_errors = await asyncio.wait_for(work, max(budget, 0.001))
        except TimeoutError:
            self._refuse(f"the request took longer than its limit of {self.timeout_seconds:g} s (validating)")


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
        partial(BoundedValidation, max_depth=settings.max_depth, max_selections=MAX_SELECTIONS,
                timeout_seconds=settings.timeout_seconds),
        partial(CostLimit, max_cost=settings.max_cost, max_page=settings.max_page_size),
        CompiledQueries,  # after the cost check: a refused query never reaches Neo4j
        partial(MaskErrors, should_mask_error=should_mask, error_message=MASKED_MESSAGE),
        RequestFigures,
    ]
