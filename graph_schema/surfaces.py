"""What each consumer sees of the model, decided here and nowhere else.

Collector records (collectors/records.py), the GraphQL node types (graphinv/api/nodes.py), the API's
look-up whitelist and the collect summary's counts are all built from the node classes; this module
says which labels and properties each of them leaves out, and why. Adding a label to the model (and
to registry.NODE_CLASSES) is all it takes for it to get a record type, a GraphQL type and look-ups.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from neomodel import ZeroOrOne
from neomodel.properties import Property

from graph_schema.base import ClaimFlag, DerivedKey, GraphNode, InventoryNode, LinkFrom, LinkTo
from graph_schema.registry import NODE_CLASSES, node_class

# Labels collectors write and the API serves (see InventoryNode), in the registry's order.
INVENTORY_CLASSES: tuple[type[GraphNode], ...] = tuple(c for c in NODE_CLASSES if issubclass(c, InventoryNode))
# Regions are plain value nodes (resources carry `region`); the API has no type for them.
NOT_IN_API_LABELS = frozenset({"Region"})

# Written by the ingest engine on every upsert: a collector never sets them.
# `claimed` is a ClaimFlag (graph_schema.base): the orphan queries' way in, kept from the edges.
ENGINE_PROPERTIES = frozenset({"first_seen", "last_seen", "source", "scope", "run_id", "content_hash", "claimed"})
# Stamped by the engine, never by a collector (a record's null would erase the stamp): the moment a
# Machine or Shoot pointing at the node changed or went (graphinv/ingest/engine.py, docs/ownership.md
# section 6), and the orphan lifecycle's facts (graph_schema.cloud.CloudResource). Bookkeeping for the
# orphan rules, so the API does not publish them either.
STAMP_PROPERTIES = frozenset({"owner_changed_at", "lost_edge_at", "lost_edge", "orphan_since", "orphan_finding"})
# Not published by the API. Everywhere: the engine's sweep bookkeeping (first_seen and last_seen are
# published: they say how long a resource has been known). Per label: keys the engine joins on
# (the API publishes the edge instead) and names users need not see.
NOT_IN_API_ANYWHERE = frozenset({"source", "scope", "run_id", "content_hash", "claimed"}) | STAMP_PROPERTIES
NOT_IN_API: Mapping[str, frozenset[str]] = {
    "Shoot": frozenset({"credentials"}),  # the secret binding's name: not for every API reader
    "Instance": frozenset({"cluster_name_key"}),  # the machine-name fallback's join key
}


def properties(cls: type[GraphNode]) -> dict[str, Property]:
    """A class's stored properties in declaration order (uid and bookkeeping first)."""
    return dict(cls.defined_properties(aliases=False, rels=False))


def record_properties(cls: type[GraphNode]) -> dict[str, Property]:
    """The properties a collector record carries: all but the ones the engine writes."""
    return {name: prop for name, prop in properties(cls).items()
            if name not in ENGINE_PROPERTIES and name not in STAMP_PROPERTIES}


def link_keys(cls: type[GraphNode]) -> frozenset[str]:
    """Properties holding the key of the far end of a link: the API shows the edge, not the key."""
    rels = cls.defined_properties(aliases=False, rels=True, properties=False).values()
    return frozenset(r.via for r in rels if isinstance(r, LinkTo | LinkFrom))


def api_properties(cls: type[GraphNode]) -> dict[str, Property]:
    """The properties a GraphQL node type publishes, uid first and first_seen/last_seen last."""
    hidden = NOT_IN_API_ANYWHERE | NOT_IN_API.get(cls.__label__, frozenset()) | link_keys(cls)
    props = {n: p for n, p in properties(cls).items() if n not in hidden}
    seen: dict[str, Property] = {n: props.pop(n) for n in ("first_seen", "last_seen") if n in props}
    return {**props, **seen}


def api_classes() -> tuple[type[GraphNode], ...]:
    return tuple(c for c in INVENTORY_CLASSES if c.__label__ not in NOT_IN_API_LABELS)


Edge = tuple[str, str, Literal["out", "in"], str, bool]


def api_edges(cls: type[GraphNode]) -> list[Edge]:
    """The edges a GraphQL type walks: (field name, relationship type, "out"|"in", far label, at most
    one far end). Links resolved by a key property lead to one node; plain relationships to many
    unless declared ZeroOrOne. Two ways to the same edge (a Machine's instance by providerID or by
    name) are one field; edges to labels the API does not serve are left out."""
    served = {c.__label__ for c in api_classes()}
    edges: list[Edge] = []
    seen: set[tuple[str, str, str]] = set()
    for name, rel in cls.defined_properties(aliases=False, rels=True, properties=False).items():
        raw: Any = rel._raw_class
        target = raw.rsplit(".", 1)[-1] if isinstance(raw, str) else str(raw.__label__)
        direction: Literal["out", "in"] = "out" if rel.definition["direction"] == 1 else "in"
        edge = (str(rel.definition["relation_type"]), direction, target)
        if target not in served or edge in seen:
            continue
        seen.add(edge)
        single = isinstance(rel, LinkTo | LinkFrom) or rel.manager is ZeroOrOne
        edges.append((name, edge[0], direction, target, single))
    return edges


def lookup_keys() -> frozenset[tuple[str, str]]:
    """Label/property pairs the API may look a node up by (they go into Cypher text): every served
    label's uid, and each published property another label's link matches on (a shoot's technical_id)."""
    keys = {(c.__label__, "uid") for c in api_classes()}
    for cls in INVENTORY_CLASSES:
        for rel in cls.defined_properties(aliases=False, rels=True, properties=False).values():
            if isinstance(rel, LinkTo | LinkFrom):
                raw: Any = rel._raw_class
                target = raw.rsplit(".", 1)[-1] if isinstance(raw, str) else str(raw.__label__)
                if target in {c.__label__ for c in api_classes()} and rel.target_key in api_properties(
                        node_class(target)):
                    keys.add((target, rel.target_key))
    return frozenset(keys)


def claim_flag(label: str) -> tuple[str, tuple[str, ...]] | None:
    """The label's ClaimFlag, as (property name, relationship types), or None."""
    for name, prop in properties(node_class(label)).items():
        if isinstance(prop, ClaimFlag):
            return name, prop.rels
    return None


def derive_keys(label: str, values: dict[str, Any]) -> None:
    """Fill in the label's DerivedKey properties that `values` leaves empty (see DerivedKey)."""
    for name, prop in properties(node_class(label)).items():
        if isinstance(prop, DerivedKey) and values.get(name) is None:
            values[name] = prop.derive(values)


def is_cloud(cls: type[GraphNode]) -> bool:
    """Cloud labels are counted per provider; Gardener's as `gardener`."""
    return cls.__module__ == "graph_schema.cloud"
