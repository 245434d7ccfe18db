"""What collectors produce: plain, provider-neutral records. Nothing here knows of Neo4j.

Each record type names the graph label it becomes (`label`) and carries its natural key (`uid`) plus
the properties the model (graph_schema) declares for that label, with the model's types and
defaults: the fields are built from the node class, never written out here (the key formats are
documented on the node classes). Fields ending in `_ref` are references to other nodes by their
key; the ingest engine turns them into edges, in whichever order the two ends arrive, and fills in
the ones the model derives (a cloud resource's account, region and shoot) itself.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from neomodel import ArrayProperty, BooleanProperty, DateTimeNeo4jFormatProperty, IntegerProperty, JSONProperty
from neomodel.properties import Property

from graph_schema.registry import node_class
from graph_schema.surfaces import INVENTORY_CLASSES, record_properties


def _field(name: str, prop: Property) -> tuple[str, Any, Any]:
    """A dataclass field for a model property: its Python type and default."""
    if name == "uid":
        return name, str, dataclasses.field()
    if isinstance(prop, BooleanProperty):
        return name, bool, dataclasses.field(default=bool(prop.default))
    if isinstance(prop, ArrayProperty):
        return name, list[str], dataclasses.field(default_factory=list)
    if isinstance(prop, JSONProperty):
        return name, dict[str, str], dataclasses.field(default_factory=dict)
    kind = {IntegerProperty: int, DateTimeNeo4jFormatProperty: datetime}.get(type(prop), str)
    return name, kind | None, dataclasses.field(default=None)


class Record:
    """Base of every record type. A subclass names its label (`class XRecord(Record, label="X")`)
    and becomes a dataclass of that label's record properties (graph_schema.surfaces)."""

    label: ClassVar[str]
    uid: str

    if TYPE_CHECKING:  # the fields come from the model at import time; type checkers see them as Any
        __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

        def __init__(self, uid: str, **fields: Any) -> None: ...

        def __getattr__(self, name: str) -> Any: ...

    def __init_subclass__(cls, label: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if label is None:  # an abstract grouping such as CloudResource
            return
        cls.label = label
        fields = [_field(n, p) for n, p in record_properties(node_class(label)).items()]
        cls.__annotations__ = {name: kind for name, kind, _ in fields}
        for name, _, spec in fields:
            setattr(cls, name, spec)
        dataclasses.dataclass(cls)


class CloudResource(Record):
    """What every Instance, Disk and IP record shares (graph_schema.cloud.CloudResource)."""


# The record types collectors import by name; a label added to the model gets one in RECORD_TYPES.
class ProjectRecord(Record, label="Project"): ...
class SeedRecord(Record, label="Seed"): ...
class ShootRecord(Record, label="Shoot"): ...
class MachineRecord(Record, label="Machine"): ...
class BastionRecord(Record, label="Bastion"): ...
class CloudAccountRecord(Record, label="CloudAccount"): ...
class RegionRecord(Record, label="Region"): ...
class InstanceRecord(CloudResource, label="Instance"): ...
class DiskRecord(CloudResource, label="Disk"): ...
class IPRecord(CloudResource, label="IP"): ...


def _record_types() -> tuple[type[Record], ...]:
    named = {cls.label: cls for cls in (ProjectRecord, SeedRecord, ShootRecord, MachineRecord, BastionRecord,
                                        CloudAccountRecord, RegionRecord, InstanceRecord, DiskRecord, IPRecord)}
    return tuple(named.get(cls.__label__) or type(f"{cls.__label__}Record", (Record,), {}, label=cls.__label__)
                 for cls in INVENTORY_CLASSES)


RECORD_TYPES: tuple[type[Record], ...] = _record_types()
RECORD_BY_LABEL: dict[str, type[Record]] = {cls.label: cls for cls in RECORD_TYPES}
