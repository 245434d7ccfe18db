"""GraphQL compiled to Cypher: each root field of a query becomes ONE Cypher query.

The resolver path (graphinv/api/nodes.py) walks a query level by level: one DataLoader round trip
per nested field, then strawberry builds and resolves one Python object per node. For the deep
traversals users run that Python, not Neo4j, was the cost. Here a root field's whole selection set
(look-ups, connections with `first`/`after`/`filter`/`totalCount`, every edge with its `first`, only
the requested properties, fragments, aliases, `@skip`/`@include`, `__typename`) is translated into
one query of nested `COLLECT {}` subqueries that returns plain lists of primitive values (timestamps
already rendered as ISO 8601 text by Neo4j, exactly as `datetime.isoformat()` writes them). The
rows are then shaped into the response in one pass, in the worker thread that ran the query (one
thread hop per root field), and handed to strawberry as the operation's result.

A root field stays on the resolver path when one query cannot express it, or when it would not
produce exactly the resolver path's answer:
- fields computed in Python or by other queries: `history`, `capacity`, and the root fields
  `orphans`, `freshness`, `stats`, `changes`, introspection (`__schema`, `__type`);
- requests that end in an error (a `first` out of range, a bad cursor, both or neither of a shoot's
  keys): the resolvers raise it with the exact message and path;
- stored values the resolvers would reject or render differently (a null in a non-null field, a
  value a scalar cannot represent, a timestamp without a time zone, a malformed JSON property):
  the compiled answer is dropped and the field resolved the old way.
The other root fields of the same operation still run compiled; their results are merged back in
document order.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLError,
    GraphQLField,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_operation_ast,
)
from graphql.execution.values import VariableValues, get_argument_values, get_directive_values, get_variable_values
from graphql.type import GraphQLIncludeDirective, GraphQLSkipDirective
from strawberry.extensions import SchemaExtension

from graphinv.api import filters as flt
from graphinv.api.errors import ApiError
from graphinv.api.nodes import EDGE_FIELDS, TYPES
from graphinv.api.pagination import Where, decode_cursor, encode_cursor
from graphinv.api.selection import stored_fields

Shaper = Callable[[Any], Any]
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1  # GraphQL's Int is 32 bits
Row = list[Any]


class NotCompilable(Exception):
    """This root field takes the resolver path (see the module docstring)."""


class Fallback(Exception):
    """The stored data would not come out exactly as the resolvers render it: resolve the old way."""


# -- root fields ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Lookup:
    label: str
    keys: tuple[tuple[str, str], ...]  # (GraphQL argument, stored property), exactly one given


@dataclass(frozen=True)
class Listing:
    label: str
    where: Callable[[Any], Where]
    filter_type: type | None


LOOKUPS: dict[str, Lookup] = {
    "project": Lookup("Project", (("name", "uid"),)),
    "seed": Lookup("Seed", (("name", "uid"),)),
    "shoot": Lookup("Shoot", (("uid", "uid"), ("technicalId", "technical_id"))),
    "machine": Lookup("Machine", (("uid", "uid"),)),
    "bastion": Lookup("Bastion", (("uid", "uid"),)),
    "cloudAccount": Lookup("CloudAccount", (("uid", "uid"),)),
    "instance": Lookup("Instance", (("uid", "uid"),)),
    "disk": Lookup("Disk", (("uid", "uid"),)),
    "ip": Lookup("IP", (("uid", "uid"),)),
}
LISTINGS: dict[str, Listing] = {
    "projects": Listing("Project", flt.project_where, flt.ProjectFilter),
    "seeds": Listing("Seed", flt.seed_where, flt.SeedFilter),
    "shoots": Listing("Shoot", flt.shoot_where, flt.ShootFilter),
    "machines": Listing("Machine", flt.machine_where, flt.MachineFilter),
    "cloudAccounts": Listing("CloudAccount", flt.account_where, flt.AccountFilter),
    "instances": Listing("Instance", flt.resource_where, flt.InstanceFilter),
    "disks": Listing("Disk", flt.resource_where, flt.ResourceFilter),
    "ips": Listing("IP", flt.resource_where, flt.ResourceFilter),
}


# -- scalars: the value strawberry would send, or Fallback ----------------------------------------------
def _iso(var: str) -> str:
    """A zoned DATETIME as `datetime.isoformat()` writes the driver's native value (microseconds
    truncated, `+00:00` for UTC); any other stored type comes back as a map, which falls back."""
    two = "right('0' + toString({0}.{1}), 2)"
    return (
        f"CASE WHEN {var} IS NULL THEN null WHEN {var} IS :: ZONED DATETIME THEN "
        f"toString(date({var})) + 'T' + {two.format(var, 'hour')} + ':' + {two.format(var, 'minute')} + ':' + "
        f"{two.format(var, 'second')} + CASE {var}.microsecond WHEN 0 THEN '' "
        f"ELSE '.' + right('00000' + toString({var}.microsecond), 6) END + "
        f"CASE {var}.offset WHEN 'Z' THEN '+00:00' ELSE {var}.offset END ELSE {{unsupported: true}} END"
    )


def _serializer(scalar: GraphQLScalarType) -> Shaper:
    fast: type | None = {GraphQLString.name: str, GraphQLBoolean.name: bool, GraphQLInt.name: int}.get(scalar.name)
    name = scalar.name
    if name == "DateTime":
        def date_time(value: Any) -> Any:
            if type(value) is str:
                return value
            raise Fallback
        return date_time
    if name == "JSON":
        def json_value(value: Any) -> Any:
            if isinstance(value, str):  # stored as a JSON string: Neo4j properties hold no maps
                try:
                    return json.loads(value)
                except ValueError:
                    raise Fallback from None
            return value
        return json_value
    if fast is None:
        raise NotCompilable(f"scalar {name}")
    serialize = scalar.serialize

    def checked(value: Any) -> Any:
        if type(value) is fast and (fast is not int or _INT_MIN <= cast(int, value) <= _INT_MAX):
            return value
        if type(value) not in (str, bool, int, float):  # driver objects (temporal, spatial): the resolvers
            raise Fallback                              # convert them first (`_native`)
        try:
            return serialize(value)
        except (GraphQLError, TypeError, ValueError):
            raise Fallback from None
    return checked


def _scalar_shaper(kind: GraphQLOutputType) -> Shaper:
    nullable = not isinstance(kind, GraphQLNonNull)
    inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
    if isinstance(inner, GraphQLList):
        item = _scalar_shaper(inner.of_type)

        def many(value: Any) -> Any:
            if value is None:
                if nullable:
                    return None
                raise Fallback
            if not isinstance(value, list):
                raise Fallback
            return [item(v) for v in value]
        return many
    if not isinstance(inner, GraphQLScalarType):
        raise NotCompilable(f"type {inner}")
    serialize = _serializer(inner)

    def one(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise Fallback
        return serialize(value)
    return one


@dataclass(frozen=True)
class Column:
    """One response key of an object: the constant `fn` (`index` None), or the row's value at
    `index` passed through `fn` (how: "call"; "fast": the value itself when it is of type `fast`,
    or None where nullable, else `fn`; "rows": `fn` of each entry of a list)."""

    key: str
    index: int | None
    fn: Any
    how: str = "call"  # call | fast | rows
    fast: type | None = None
    nullable: bool = True


def _object_shaper(columns: list[Column]) -> Shaper:
    """Row (a list, one entry per Cypher column) -> the response object, keys in document order.

    The function is generated as one dict display per object type of the query: about 5,000 objects
    a deep query returns are shaped without a Python call per field for the common scalar values."""
    names: dict[str, Any] = {"Fallback": Fallback, "_INT_MIN": _INT_MIN, "_INT_MAX": _INT_MAX}
    items = []
    for n, col in enumerate(columns):
        names[f"f{n}"] = col.fn
        if col.index is None:
            items.append(f"{col.key!r}: f{n}")
            continue
        value = f"row[{col.index}]"
        if col.how == "rows":
            items.append(f"{col.key!r}: [f{n}(r) for r in {value}]")
        elif col.how == "fast" and col.fast is not None:
            test = f"(v{n} := {value}).__class__ is {col.fast.__name__}"
            if col.fast is int:
                test += f" and _INT_MIN <= v{n} <= _INT_MAX"
            if col.nullable:
                test = f"(v{n} := {value}) is None or " + test.replace(f"(v{n} := {value})", f"v{n}")
            items.append(f"{col.key!r}: (v{n} if {test} else f{n}(v{n}))")
        else:
            items.append(f"{col.key!r}: f{n}({value})")
    source = "def shape(row):\n    if row is None:\n        return None\n    return {" + ", ".join(items) + "}\n"
    exec(compile(source, "<compiled shaper>", "exec"), names)  # only GraphQL names (validated) become text
    shape: Shaper = names["shape"]
    return shape


def _fast(kind: GraphQLOutputType) -> tuple[type | None, bool]:
    """The Python type a stored value of this GraphQL type is sent as unchanged, and nullability."""
    nullable = not isinstance(kind, GraphQLNonNull)
    inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
    if isinstance(inner, GraphQLScalarType):
        return {GraphQLString.name: str, GraphQLBoolean.name: bool, GraphQLInt.name: int}.get(inner.name), nullable
    return None, nullable


# -- the compiler ---------------------------------------------------------------------------------------------
@dataclass
class Compiled:
    key: str  # the response key (alias or name)
    query: str
    params: dict[str, Any]
    shape: Callable[[list[Row]], Any]  # the query's rows -> the root field's value


@dataclass
class Compiler:
    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    variables: VariableValues
    max_page: int
    params: dict[str, Any] = field(default_factory=dict)

    # selections, as graphql-core's executor collects them
    def _included(self, node: Any) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip and skip.get("if"):
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include is not None and not include.get("if"))

    def collect(self, selection_sets: Iterable[SelectionSetNode | None], type_name: str) -> dict[str, list[FieldNode]]:
        fields: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()

        def walk(selection_set: SelectionSetNode | None) -> None:
            for node in selection_set.selections if selection_set else ():
                if not self._included(node):
                    continue
                if isinstance(node, FieldNode):
                    fields.setdefault(node.alias.value if node.alias else node.name.value, []).append(node)
                elif isinstance(node, InlineFragmentNode):
                    if node.type_condition is None or node.type_condition.name.value == type_name:
                        walk(node.selection_set)
                elif isinstance(node, FragmentSpreadNode):
                    name = node.name.value
                    fragment = self.fragments.get(name)
                    if name in visited or fragment is None:
                        continue
                    visited.add(name)
                    if fragment.type_condition.name.value == type_name:
                        walk(fragment.selection_set)

        for selection_set in selection_sets:
            walk(selection_set)
        return fields

    def _args(self, definition: GraphQLField, nodes: list[FieldNode]) -> dict[str, Any]:
        return get_argument_values(definition, nodes[0], self.variables)

    def _first(self, value: Any) -> int:
        if not isinstance(value, int) or value < 1 or value > self.max_page:
            raise NotCompilable("first out of range")  # the resolver raises the API's error
        return value

    def _param(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def node(self, type_name: str, nodes: list[FieldNode], var: str, depth: int) -> tuple[str, Shaper]:
        """The Cypher list expression of one node of `type_name` bound to `var`, and its shaper."""
        gtype = self.schema.get_type(type_name)
        cls = TYPES.get(type_name)
        if not isinstance(gtype, GraphQLObjectType) or cls is None:
            raise NotCompilable(type_name)
        stored = stored_fields(cast(Any, cls))
        exprs: list[str] = []
        columns: list[Column] = []
        for key, field_nodes in self.collect((n.selection_set for n in nodes), type_name).items():
            name = field_nodes[0].name.value
            if name == "__typename":
                columns.append(Column(key, None, type_name))
                continue
            definition = gtype.fields.get(name)
            if definition is None:
                raise NotCompilable(name)
            if name in stored:
                prop = f"{var}.`{stored[name]}`"
                named = definition.type.of_type if isinstance(definition.type, GraphQLNonNull) else definition.type
                is_time = isinstance(named, GraphQLScalarType) and named.name == "DateTime"
                exprs.append(f"[t IN [{prop}] | {_iso('t')}][0]" if is_time else prop)
                fast, nullable = _fast(definition.type)
                columns.append(Column(key, len(exprs) - 1, _scalar_shaper(definition.type), "fast" if fast else "call",
                                      fast, nullable))
                continue
            edge = EDGE_FIELDS.get((type_name, name))
            if edge is None:
                raise NotCompilable(f"{type_name}.{name}")  # history, capacity: their own queries
            child = f"n{depth + 1}"
            inner, shape_child = self.node(edge.target, field_nodes, child, depth + 1)
            match = f"MATCH {edge.relation.hop(var, child)} WITH {child} ORDER BY {child}.uid"
            if edge.single:
                exprs.append(f"COLLECT {{ {match} LIMIT 1 RETURN {inner} }}[0]")
                columns.append(Column(key, len(exprs) - 1, shape_child))
            else:
                first = self._first(self._args(definition, field_nodes).get("first"))
                exprs.append(f"COLLECT {{ {match} LIMIT {first} RETURN {inner} }}")
                columns.append(Column(key, len(exprs) - 1, shape_child, "rows"))
        return "[" + ", ".join(exprs) + "]", _object_shaper(columns)

    # root fields
    def root(self, key: str, nodes: list[FieldNode]) -> Compiled:
        query_type = self.schema.query_type
        name = nodes[0].name.value
        assert query_type is not None
        if name == "__typename":
            return Compiled(key, "", {}, lambda rows: query_type.name)
        definition = query_type.fields.get(name)
        if definition is None:
            raise NotCompilable(name)
        if name in LOOKUPS:
            return self._lookup(key, LOOKUPS[name], definition, nodes)
        if name in LISTINGS:
            return self._listing(key, LISTINGS[name], definition, nodes)
        raise NotCompilable(name)

    def _lookup(self, key: str, lookup: Lookup, definition: GraphQLField, nodes: list[FieldNode]) -> Compiled:
        args = self._args(definition, nodes)
        given = [(prop, args.get(arg)) for arg, prop in lookup.keys if args.get(arg) is not None]
        if len(given) != 1:
            raise NotCompilable("give exactly one key")  # the resolver's error
        prop, value = given[0]
        inner, shape = self.node(lookup.label, nodes, "n", 0)
        query = f"MATCH (n:{lookup.label} {{{prop}: {self._param(value)}}}) RETURN {inner} LIMIT 1"
        return Compiled(key, query, self.params, lambda rows: shape(rows[0][0]) if rows else None)

    def _listing(self, key: str, listing: Listing, definition: GraphQLField, nodes: list[FieldNode]) -> Compiled:
        args = self._args(definition, nodes)
        size = self._first(args.get("first"))
        after = args.get("after")
        try:
            after_uid = decode_cursor(after) if after else None
        except ApiError:
            raise NotCompilable("bad cursor") from None
        raw = args.get("filter")
        filter_value = None
        if raw is not None and listing.filter_type is not None:
            filter_value = raw if isinstance(raw, listing.filter_type) else listing.filter_type(
                **{_snake(k): v for k, v in raw.items()})
        where = listing.where(filter_value)
        self.params.update(where.params)
        page_where = Where(list(where.clauses), {})
        if after_uid is not None:
            page_where.clauses.append(f"n.uid > {self._param(after_uid)}")
        connection = self.schema.get_type(_named(definition.type).name)
        assert isinstance(connection, GraphQLObjectType)
        edge_type = _named(connection.fields["edges"].type)
        selected = self.collect((n.selection_set for n in nodes), connection.name)
        columns: list[tuple[str, list[FieldNode]]] = []
        wants_total = False
        node_fields: list[FieldNode] = []
        for sub_key, sub_nodes in selected.items():
            sub = sub_nodes[0].name.value
            if sub == "edges":
                if node_fields:  # `node` under two response keys: one query returns one node shape
                    raise NotCompilable("node selected twice")
                for edge_nodes in self.collect((n.selection_set for n in sub_nodes), edge_type.name).values():
                    if edge_nodes[0].name.value == "node":
                        if node_fields:
                            raise NotCompilable("node selected twice")
                        node_fields += edge_nodes
            elif sub == "totalCount":
                wants_total = True
            elif sub not in ("pageInfo", "__typename"):
                raise NotCompilable(sub)
            columns.append((sub_key, sub_nodes))
        node_expr, node_shape = self.node(listing.label, node_fields, "n", 0) if node_fields else ("null", None)
        query = (f"RETURN COLLECT {{ MATCH (n:{listing.label}) WHERE {page_where.text()} WITH n ORDER BY n.uid "
                 f"LIMIT {size + 1} RETURN [n.uid, {node_expr}] }} AS page")
        if wants_total:
            query += f", COUNT {{ MATCH (n:{listing.label}) WHERE {where.text()} }} AS total"
        page_info_type = _named(connection.fields["pageInfo"].type)
        shape_connection = self._connection_shaper(columns, connection.name, edge_type.name, page_info_type.name,
                                                   size, after is not None, node_shape)
        return Compiled(key, query, self.params, lambda rows: shape_connection(rows[0]))

    def _connection_shaper(self, columns: list[tuple[str, list[FieldNode]]], connection: str, edge: str,
                           page_info: str, size: int, has_previous: bool, node_shape: Shaper | None) -> Shaper:
        def subfields(nodes: list[FieldNode], type_name: str) -> dict[str, str]:
            return {k: v[0].name.value for k, v in self.collect((n.selection_set for n in nodes), type_name).items()}

        # (response key, field, its own sub-selection: response key -> field)
        plan = [(key, nodes[0].name.value, subfields(nodes, edge) if nodes[0].name.value == "edges" else
                 subfields(nodes, page_info) if nodes[0].name.value == "pageInfo" else {}) for key, nodes in columns]

        def shape(row: Row) -> dict[str, Any]:
            page = row[0]
            more = len(page) > size
            page = page[:size]
            cursors = [encode_cursor(uid) for uid, _ in page]
            out: dict[str, Any] = {}
            for key, name, sub in plan:
                if name == "edges":
                    edges = []
                    for cursor, (_, node_row) in zip(cursors, page, strict=True):
                        item: dict[str, Any] = {}
                        for edge_key, edge_name in sub.items():
                            if edge_name == "cursor":
                                item[edge_key] = cursor
                            elif edge_name == "node":
                                node = node_shape(node_row) if node_shape else None
                                if node is None:
                                    raise Fallback
                                item[edge_key] = node
                            else:  # __typename
                                item[edge_key] = edge
                        edges.append(item)
                    out[key] = edges
                elif name == "pageInfo":
                    values = {"hasNextPage": more, "hasPreviousPage": has_previous,
                              "startCursor": cursors[0] if cursors else None,
                              "endCursor": cursors[-1] if cursors else None, "__typename": page_info}
                    out[key] = {k: values[n] for k, n in sub.items()}
                elif name == "totalCount":
                    out[key] = int(row[1])
                else:
                    out[key] = connection
            return out
        return shape


def _named(kind: Any) -> Any:
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    return kind


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


# -- running it ---------------------------------------------------------------------------------------------
async def _run(db: Any, compiled: Compiled) -> Any:
    """The query and the shaping in ONE worker thread: the event loop only awaits."""
    if not compiled.query:
        return compiled.shape([])

    def work() -> Any:
        return compiled.shape(db.run_read_values(compiled.query, compiled.params))
    return await asyncio.to_thread(work)


_MISSING = object()


class CompiledQueries(SchemaExtension):
    """Answers the compilable root fields of a query operation with one Cypher query each; the rest
    of the operation (if any) runs through the resolvers, and the two are merged in document order."""

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        context = ec.context
        document = ec.graphql_document
        if ec.result is not None or document is None or not getattr(context, "compiled", False):
            yield
            return
        plan = self._plan(document, ec.operation_name, ec.variables, context)
        if plan is None:
            yield
            return
        operation, order, compiled, remaining = plan
        answers = await asyncio.gather(*(self._answer(context.db, c) for c in compiled.values()))
        data = {key: value for key, value in zip(compiled, answers, strict=True) if value is not _MISSING}
        remaining += [compiled[key].key for key in compiled if key not in data]
        if not remaining:
            ec.result = ExecutionResult(data={key: data[key] for key in order})
            yield
            return
        if data:
            fields = [n for key in order if key in remaining for n in order[key]]
            ec.graphql_document = _with_root_fields(document, operation, fields)
        try:
            yield
        finally:
            ec.graphql_document = document
        result = ec.result
        if data and isinstance(result, ExecutionResult) and result.data is not None:
            result.data = {key: data[key] if key in data else result.data.get(key) for key in order}

    @staticmethod
    async def _answer(db: Any, compiled: Compiled) -> Any:
        try:
            return await _run(db, compiled)
        except Exception:  # Fallback, a timeout, an unreachable graph: the resolvers give their answer
            return _MISSING

    def _plan(self, document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None,
              context: Any) -> tuple[OperationDefinitionNode, dict[str, list[FieldNode]], dict[str, Compiled],
                                     list[str]] | None:
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation != OperationType.QUERY:
            return None
        schema = self.execution_context.schema._schema
        coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
        if not isinstance(coerced, VariableValues):
            return None  # the executor reports bad variables
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        query_type = schema.query_type
        assert query_type is not None
        order = Compiler(schema, fragments, coerced, context.settings.max_page_size).collect(
            [operation.selection_set], query_type.name)
        compiled: dict[str, Compiled] = {}
        remaining: list[str] = []
        for key, nodes in order.items():
            try:
                compiled[key] = Compiler(schema, fragments, coerced, context.settings.max_page_size).root(key, nodes)
            except NotCompilable:
                remaining.append(key)
        if not compiled:
            return None
        return operation, order, compiled, remaining


def _with_root_fields(document: DocumentNode, operation: OperationDefinitionNode,
                      fields: list[FieldNode]) -> DocumentNode:
    """The same document, its operation selecting only `fields` (fragments and variables kept)."""
    narrowed = OperationDefinitionNode(
        operation=operation.operation, name=operation.name, variable_definitions=operation.variable_definitions,
        directives=operation.directives, selection_set=SelectionSetNode(selections=tuple(fields)))
    return DocumentNode(definitions=tuple(narrowed if d is operation else d for d in document.definitions))


