"""Building blocks of the model: the base node every label shares, and declared links.

A link is an ordinary neomodel relationship (so neomodel, Browser users and our queries see the same
edge) plus the one thing the ingest engine needs to build it from records: which property of this
node holds the key of the node at the other end (`via`), and which property of that node it
matches (`target_key`). Links are created in whichever order the two ends arrive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from string import Formatter
from typing import Any, Literal

from neomodel import (
    BooleanProperty,
    DateTimeNeo4jFormatProperty,
    RelationshipFrom,
    RelationshipTo,
    StringProperty,
    StructuredNode,
)


class GraphNode(StructuredNode):
    """Every node: a natural key and the bookkeeping that makes mark-and-sweep safe."""

    __abstract_node__ = True

    uid = StringProperty(unique_index=True, required=True)  # stable, natural, provider-native key
    first_seen = DateTimeNeo4jFormatProperty()
    last_seen = DateTimeNeo4jFormatProperty()
    source = StringProperty()  # the collector that wrote it: gardener | aws | gcp | azure | openstack
    scope = StringProperty(index=True)  # the scope key of the read that last saw it (see Collection)
    run_id = StringProperty()  # that read's run; a complete read sweeps its scope's other run ids
    # What the engine last wrote from a record (graphinv/ingest/engine.py, `content_hash`): a read
    # that brings the same record again only refreshes last_seen and run_id.
    content_hash = StringProperty()


class ClaimFlag(BooleanProperty):
    """Whether some node points at this one by one of `rels` (a Machine RUNS_ON a VM, a Bastion
    USES_VM it). The ingest engine keeps it wherever it makes or removes those edges, so a query for
    unclaimed nodes starts from an index seek on the few of them instead of visiting every node
    (queries/orphan_instances.cypher). It may say false for a node that is claimed, which such a
    query settles by looking at the edges again, but never true for one that is not: every
    statement that removes one of these edges, or deletes the node they start at, sets it false.
    Not a record field: collectors never set it."""

    def __init__(self, rels: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(index=True, **kwargs)
        self.rels = rels


class DerivedKey(StringProperty):
    """A key the ingest engine fills in from other properties of the same node, so collectors never
    spell it out: `template` names them (`"{provider}:{account_id}"`). It stays null while any of
    them is empty; a value a record does give is kept."""

    def __init__(self, template: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.template = template
        self.inputs = tuple(name for _, name, _, _ in Formatter().parse(template) if name)

    def derive(self, values: Mapping[str, Any]) -> str | None:
        if not all(values.get(name) for name in self.inputs):
            return None
        return self.template.format_map(values)


class InventoryNode(GraphNode):
    """A node of the inventory itself: collectors write it (as a record) and the API serves it, both
    built from its declared properties (graph_schema.surfaces). The engine's and the alert store's
    own nodes derive from GraphNode directly."""

    __abstract_node__ = True


@dataclass(frozen=True)
class LinkSpec:
    """How one declared relationship is resolved from node properties."""

    owner: str  # label of the node holding `via`
    name: str  # attribute name on the owner class
    rel: str
    direction: Literal["out", "in"]  # out: (owner)-[rel]->(target); in: (target)-[rel]->(owner)
    target: str  # label of the other end
    via: str  # property on the owner holding the other end's key
    target_key: str  # property on the target matched against `via`
    # When set, a missing far end is created (for plain value nodes such as regions): target
    # property -> owner property it is copied from.
    create_missing: tuple[tuple[str, str], ...] = ()


class _Resolvable:
    """What LinkTo and LinkFrom add to a neomodel relationship: how to find the other end."""

    via: str
    target_key: str
    create_missing: tuple[tuple[str, str], ...]
    link_direction: Literal["out", "in"]

    def _resolve_by(self, direction: Literal["out", "in"], via: str, target_key: str,
                    create_missing: dict[str, str] | None) -> None:
        self.via = via
        self.target_key = target_key
        self.create_missing = tuple((create_missing or {}).items())
        self.link_direction = direction


class LinkTo(_Resolvable, RelationshipTo):
    """(this)-[rel]->(target), where this node's `via` property equals the target's `target_key`."""

    def __init__(self, cls_name: str, relation_type: str, *, via: str, target_key: str = "uid",
                 create_missing: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(cls_name, relation_type, **kwargs)
        self._resolve_by("out", via, target_key, create_missing)


class LinkFrom(_Resolvable, RelationshipFrom):
    """(target)-[rel]->(this), where this node's `via` property equals the target's `target_key`."""

    def __init__(self, cls_name: str, relation_type: str, *, via: str, target_key: str = "uid",
                 create_missing: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(cls_name, relation_type, **kwargs)
        self._resolve_by("in", via, target_key, create_missing)


def link_specs(cls: type[GraphNode]) -> list[LinkSpec]:
    """The resolvable links a node class declares, in declaration order."""
    specs = []
    for name, definition in cls.defined_properties(aliases=False, rels=True, properties=False).items():
        if isinstance(definition, LinkTo | LinkFrom):
            target: Any = definition._raw_class  # a dotted class path or the class itself
            target_label = target.rsplit(".", 1)[-1] if isinstance(target, str) else str(target.__label__)
            specs.append(LinkSpec(
                owner=cls.__label__, name=name, rel=str(definition.definition["relation_type"]),
                direction=definition.link_direction, target=target_label,
                via=definition.via, target_key=definition.target_key,
                create_missing=definition.create_missing,
            ))
    return specs
