"""The node types and their traversals, built from the model (graph_schema.surfaces).

Each inventory label the API serves becomes one object type: its scalar fields are the label's
published properties, its edge fields the relationships the model declares, in both directions.
Nothing here lists a property or an edge; a label added to the model gets its type from here.
Every field that walks an edge goes through a DataLoader (graphinv/api/loaders.py), so a query costs
one round trip per level, not per row. Lists along an edge take `first` (ordered by uid); use the
root connections to page further.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import strawberry
from neomodel import ArrayProperty, BooleanProperty, DateTimeNeo4jFormatProperty, IntegerProperty, JSONProperty
from neomodel.properties import Property
from strawberry.scalars import JSON
from strawberry.utils.str_converters import to_camel_case

from graph_schema.base import GraphNode
from graph_schema.surfaces import api_classes, api_edges, api_properties
from graphinv.api.capacity import capacity_fields
from graphinv.api.context import Info
from graphinv.api.history import history_field
from graphinv.api.relations import Relation, relation
from graphinv.api.selection import requested_props

DEFAULT_FIRST = 100
# Edges with few nodes per parent (a VM's disks and IPs, a shoot's bastions) default to fewer, which
# keeps the cost estimate of natural deep queries within the limit.
SMALL_FIRST = 10
SMALL_EDGES = frozenset({"Shoot.bastions", "Instance.disks", "Instance.ips"})
# What an edge field means where its name alone does not say it (the API's words, not the model's).
EDGE_DESCRIPTIONS = {
    "Seed.shoots": "Shoots whose control plane this seed hosts.",
    "Shoot.owned_instances": "VMs carrying this shoot's cluster tag, label or resource group.",
    "Shoot.owned_disks": "Disks carrying this shoot's cluster tag, label or resource group.",
    "Shoot.owned_ips": "Public IPs carrying this shoot's cluster tag, label or resource group.",
    "Machine.instance": "The VM this machine runs on.",
    "Instance.machine": "The Machine running on this VM; null for a VM no Machine claims.",
    "Instance.shoot": "The shoot whose cluster tag the VM carries, while that shoot exists.",
    "Disk.instance": "The (first) VM the disk is attached to.",
    "IP.instance": "The VM the address resolves to, when it does.",
}
N = TypeVar("N", bound="GraphNodeType")


@dataclasses.dataclass(frozen=True)
class EdgeField:
    """An edge field as the Cypher compiler (graphinv/api/compiled.py) needs it."""

    relation: Relation
    target: str  # the label (and GraphQL type name) of the nodes it leads to
    single: bool


# (type name, GraphQL field name) -> the edge that field walks; filled by _build_types.
EDGE_FIELDS: dict[tuple[str, str], EdgeField] = {}


def _native(value: Any) -> Any:
    """Neo4j temporal values to Python ones."""
    return value.to_native() if hasattr(value, "to_native") else value


class GraphNodeType:
    """Base of the node types: each scalar field takes the stored property of its name."""

    __json_fields__: ClassVar[frozenset[str]] = frozenset()

    if TYPE_CHECKING:  # the fields come from the model when the module loads
        uid: str

        def __init__(self, **fields: Any) -> None: ...

        def __getattr__(self, name: str) -> Any: ...

    @classmethod
    def from_props(cls: type[N], props: dict[str, Any]) -> N:
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if not f.init:
                continue
            value = _native(props.get(f.name))
            if f.name in cls.__json_fields__ and isinstance(value, str):
                value = json.loads(value)  # stored as a JSON string: Neo4j properties hold no maps
            values[f.name] = value
        return cls(**values)


async def _many(info: Info, relation: Relation, uid: str, first: int, cls: type[N]) -> list[N]:
    size = info.context.page_size(first)
    props = requested_props(info.selected_fields, cls)
    rows = await info.context.loaders.related(relation).load((uid, size, props))
    return [cls.from_props(row) for row in rows]


async def _one(info: Info, relation: Relation, uid: str, cls: type[N]) -> N | None:
    props = requested_props(info.selected_fields, cls)
    rows = await info.context.loaders.related(relation).load((uid, 1, props))
    return cls.from_props(rows[0]) if rows else None


# The named types other modules import; a label added to the model gets its type in TYPES.
class Project(GraphNodeType): ...
class Seed(GraphNodeType): ...
class Shoot(GraphNodeType): ...
class Machine(GraphNodeType): ...
class Bastion(GraphNodeType): ...
class CloudAccount(GraphNodeType): ...
class Instance(GraphNodeType): ...
class Disk(GraphNodeType): ...
class IP(GraphNodeType): ...


def _scalar(name: str, prop: Property) -> Any:
    if name == "uid":
        return str
    if isinstance(prop, ArrayProperty):
        return list[str] | None
    if isinstance(prop, JSONProperty):
        return JSON | None
    kind = {BooleanProperty: bool, IntegerProperty: int, DateTimeNeo4jFormatProperty: datetime}.get(type(prop), str)
    return kind | None


def _edge_resolver(rel: Relation, target: type[GraphNodeType], single: bool,
                   first: int) -> Callable[..., Awaitable[Any]]:
    if single:
        async def one(self: GraphNodeType, info: Info) -> Any:
            return await _one(info, rel, self.uid, target)
        one.__annotations__ = {"info": Info, "return": target | None}
        return one

    async def many(self: GraphNodeType, info: Info, first: int = first) -> Any:
        return await _many(info, rel, self.uid, first, target)
    many.__annotations__ = {"info": Info, "first": int, "return": list[target]}  # type: ignore[valid-type]
    return many


def _description(cls: type[GraphNode]) -> str | None:
    """The first paragraph of the model class's own docstring (not one it inherits)."""
    doc = cls.__dict__.get("__doc__")
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split()) if doc else None


def _build_types() -> dict[str, type[GraphNodeType]]:
    named = {cls.__name__: cls for cls in (Project, Seed, Shoot, Machine, Bastion, CloudAccount, Instance, Disk, IP)}
    models = api_classes()
    types: dict[str, type[GraphNodeType]] = {
        m.__label__: named.get(m.__label__) or type(m.__label__, (GraphNodeType,), {}) for m in models}
    for model in models:
        label = model.__label__
        cls = types[label]
        props = api_properties(model)
        cls.__annotations__ = {name: _scalar(name, prop) for name, prop in props.items()}
        cls.__json_fields__ = frozenset(n for n, p in props.items() if isinstance(p, JSONProperty))
        for name, rel_type, direction, target, single in api_edges(model):
            key = f"{label}.{name}"
            first = SMALL_FIRST if key in SMALL_EDGES else DEFAULT_FIRST
            rel = relation(f"{label}.{to_camel_case(name)}", label, rel_type, direction, target)
            EDGE_FIELDS[(label, to_camel_case(name))] = EdgeField(rel, target, single)
            resolver = _edge_resolver(rel, types[target], single, first)
            resolver.__name__ = name
            setattr(cls, name, strawberry.field(resolver=resolver, description=EDGE_DESCRIPTIONS.get(key)))
        cls.history = history_field()  # type: ignore[attr-defined]  # graphinv/api/history.py
        for name, extra in capacity_fields(label).items():  # graphinv/api/capacity.py
            setattr(cls, name, extra)
        strawberry.type(cls, description=_description(model))
    return types


TYPES: dict[str, type[GraphNodeType]] = _build_types()
