"""All node classes by label: the list the ingest engine and schema install work from."""

from __future__ import annotations

from graph_schema.alerts import AlertFinding, AlertRun
from graph_schema.base import GraphNode, LinkSpec, link_specs
from graph_schema.cloud import IP, PROVIDER_LABELS, CloudAccount, Disk, Instance, Region
from graph_schema.gardener import Bastion, Machine, Project, Seed, Shoot
from graph_schema.hardware import CloudProfile, MachineType
from graph_schema.history import Change, ChangeCursor, OrphanAck, OrphanFinding
from graph_schema.meta import Backfill, Collection

NODE_CLASSES: tuple[type[GraphNode], ...] = (
    Project, Seed, Shoot, Machine, Bastion, CloudAccount, Region, Instance, Disk, IP, CloudProfile, MachineType,
    Collection, Backfill,
    AlertRun, AlertFinding, Change, ChangeCursor, OrphanFinding, OrphanAck,
)
BY_LABEL: dict[str, type[GraphNode]] = {cls.__label__: cls for cls in NODE_CLASSES}


def node_class(label: str) -> type[GraphNode]:
    try:
        return BY_LABEL[label]
    except KeyError:
        raise KeyError(f"no node class for label {label!r}; known: {', '.join(BY_LABEL)}") from None


def links_of(label: str) -> list[LinkSpec]:
    return link_specs(node_class(label))


def links_into(label: str) -> list[LinkSpec]:
    """Links declared on other classes whose far end is `label` (resolved when `label` arrives)."""
    return [spec for cls in NODE_CLASSES for spec in link_specs(cls) if spec.target == label]


def property_names(label: str) -> set[str]:
    return set(node_class(label).defined_properties(aliases=False, rels=False))


__all__ = ["BY_LABEL", "NODE_CLASSES", "PROVIDER_LABELS", "links_into", "links_of", "node_class", "property_names"]
