"""The node types and their traversals, in both directions along every edge of the model.

Scalar fields are the node's stored properties. Every field that walks an edge goes through a
DataLoader (graphinv/api/loaders.py), so a query costs one round trip per level, not per row.
Lists along an edge take `first` (ordered by uid); use the root connections to page further.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from strawberry.scalars import JSON

from graphinv.api import relations as rel
from graphinv.api.context import Info
from graphinv.api.relations import Relation
from graphinv.api.selection import requested_props

DEFAULT_FIRST = 100
# Edges with few nodes per parent (a VM's disks and IPs, a shoot's bastions) default to fewer, which
# keeps the cost estimate of natural deep queries within the limit.
SMALL_FIRST = 10
N = TypeVar("N", bound="GraphNodeType")


def _native(value: Any) -> Any:
    """Neo4j temporal values to Python ones."""
    return value.to_native() if hasattr(value, "to_native") else value


class GraphNodeType:
    """Builds a node type from a node's properties: each declared field takes the property of its name."""

    @classmethod
    def from_props(cls: type[N], props: dict[str, Any]) -> N:
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if not f.init:
                continue
            value = _native(props.get(f.name))
            if f.name == "tags" and isinstance(value, str):
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


@strawberry.type(description="A Gardener project (uid = its name).")
class Project(GraphNodeType):
    uid: str
    name: str | None
    namespace: str | None
    owner: str | None
    purpose: str | None
    phase: str | None
    created: datetime | None
    first_seen: datetime | None
    last_seen: datetime | None

    @strawberry.field
    async def shoots(self, info: Info, first: int = DEFAULT_FIRST) -> list[Shoot]:
        return await _many(info, rel.PROJECT_SHOOTS, self.uid, first, Shoot)


@strawberry.type(description="A Gardener seed (uid = its name).")
class Seed(GraphNodeType):
    uid: str
    name: str | None
    provider: str | None
    region: str | None
    created: datetime | None
    first_seen: datetime | None
    last_seen: datetime | None

    @strawberry.field(description="Shoots whose control plane this seed hosts.")
    async def shoots(self, info: Info, first: int = DEFAULT_FIRST) -> list[Shoot]:
        return await _many(info, rel.SEED_SHOOTS, self.uid, first, Shoot)


@strawberry.type(description="A shoot cluster (uid = `<namespace>/<name>`; technicalId = `shoot--<project>--<name>`).")
class Shoot(GraphNodeType):
    uid: str
    name: str | None
    namespace: str | None
    technical_id: str | None
    provider: str | None
    region: str | None
    cloud_profile: str | None
    seed_name: str | None
    hibernated: bool | None
    purpose: str | None
    created_by: str | None
    workers: list[str] | None
    kubernetes_version: str | None
    created: datetime | None
    first_seen: datetime | None
    last_seen: datetime | None

    @strawberry.field
    async def project(self, info: Info) -> Project | None:
        return await _one(info, rel.SHOOT_PROJECT, self.uid, Project)

    @strawberry.field
    async def seed(self, info: Info) -> Seed | None:
        return await _one(info, rel.SHOOT_SEED, self.uid, Seed)

    @strawberry.field
    async def machines(self, info: Info, first: int = DEFAULT_FIRST) -> list[Machine]:
        return await _many(info, rel.SHOOT_MACHINES, self.uid, first, Machine)

    @strawberry.field
    async def bastions(self, info: Info, first: int = SMALL_FIRST) -> list[Bastion]:
        return await _many(info, rel.SHOOT_BASTIONS, self.uid, first, Bastion)

    @strawberry.field(description="VMs carrying this shoot's cluster tag, label or resource group.")
    async def owned_instances(self, info: Info, first: int = DEFAULT_FIRST) -> list[Instance]:
        return await _many(info, rel.SHOOT_INSTANCES, self.uid, first, Instance)

    @strawberry.field(description="Disks carrying this shoot's cluster tag, label or resource group.")
    async def owned_disks(self, info: Info, first: int = DEFAULT_FIRST) -> list[Disk]:
        return await _many(info, rel.SHOOT_DISKS, self.uid, first, Disk)

    @strawberry.field(description="Public IPs carrying this shoot's cluster tag, label or resource group.")
    async def owned_ips(self, info: Info, first: int = DEFAULT_FIRST) -> list[IP]:
        return await _many(info, rel.SHOOT_IPS, self.uid, first, IP)


@strawberry.type(description="A machine-controller-manager Machine (uid = `<seed>/<namespace>/<name>`).")
class Machine(GraphNodeType):
    uid: str
    name: str | None
    namespace: str | None
    seed_name: str | None
    provider_id: str | None
    phase: str | None
    node_name: str | None
    created: datetime | None
    first_seen: datetime | None
    last_seen: datetime | None

    @strawberry.field
    async def shoot(self, info: Info) -> Shoot | None:
        return await _one(info, rel.MACHINE_SHOOT, self.uid, Shoot)

    @strawberry.field(description="The VM this machine runs on.")
    async def instance(self, info: Info) -> Instance | None:
        return await _one(info, rel.MACHINE_INSTANCE, self.uid, Instance)


@strawberry.type(description="A Gardener Bastion (uid = `<namespace>/<name>`).")
class Bastion(GraphNodeType):
    uid: str
    name: str | None
    namespace: str | None
    shoot_name: str | None
    seed_name: str | None
    provider: str | None
    ingress_ip: str | None
    created: datetime | None
    first_seen: datetime | None
    last_seen: datetime | None

    @strawberry.field
    async def shoot(self, info: Info) -> Shoot | None:
        return await _one(info, rel.BASTION_SHOOT, self.uid, Shoot)


@strawberry.type(description="An AWS account, GCP project, Azure subscription or OpenStack project "
                             "(uid = `<provider>:<id>`).")
class CloudAccount(GraphNodeType):
    uid: str
    provider: str | None
    account_id: str | None
    name: str | None

    @strawberry.field
    async def instances(self, info: Info, first: int = DEFAULT_FIRST) -> list[Instance]:
        return await _many(info, rel.ACCOUNT_INSTANCES, self.uid, first, Instance)

    @strawberry.field
    async def disks(self, info: Info, first: int = DEFAULT_FIRST) -> list[Disk]:
        return await _many(info, rel.ACCOUNT_DISKS, self.uid, first, Disk)

    @strawberry.field
    async def ips(self, info: Info, first: int = DEFAULT_FIRST) -> list[IP]:
        return await _many(info, rel.ACCOUNT_IPS, self.uid, first, IP)


@strawberry.type(description="A VM of any cloud. `status` is provider-neutral; `state` is the provider's own.")
class Instance(GraphNodeType):
    uid: str
    provider: str | None
    account_id: str | None
    region: str | None
    zone: str | None
    name: str | None
    state: str | None
    status: str | None
    role: str | None
    instance_type: str | None
    private_ip: str | None
    public_ip: str | None
    network: str | None
    provider_id: str | None
    cluster: str | None
    tags: JSON | None
    created: datetime | None
    first_seen: datetime | None
    last_seen: datetime | None

    @strawberry.field(description="The Machine running on this VM; null for a VM no Machine claims.")
    async def machine(self, info: Info) -> Machine | None:
        return await _one(info, rel.INSTANCE_MACHINE, self.uid, Machine)

    @strawberry.field(description="The shoot whose cluster tag the VM carries, while that shoot exists.")
    async def shoot(self, info: Info) -> Shoot | None:
        return await _one(info, rel.INSTANCE_SHOOT, self.uid, Shoot)

    @strawberry.field
    async def account(self, info: Info) -> CloudAccount | None:
        return await _one(info, rel.INSTANCE_ACCOUNT, self.uid, CloudAccount)

    @strawberry.field
    async def disks(self, info: Info, first: int = SMALL_FIRST) -> list[Disk]:
        return await _many(info, rel.INSTANCE_DISKS, self.uid, first, Disk)

    @strawberry.field
    async def ips(self, info: Info, first: int = SMALL_FIRST) -> list[IP]:
        return await _many(info, rel.INSTANCE_IPS, self.uid, first, IP)


@strawberry.type(description="A block volume / managed disk of any cloud.")
class Disk(GraphNodeType):
    uid: str
    provider: str | None
    account_id: str | None
    region: str | None
    zone: str | None
    name: str | None
    state: str | None
    size_gb: int | None
    disk_type: str | None
    boot: bool | None
    attached: bool | None
    attached_instances: list[str] | None
    last_attached: datetime | None
    last_detached: datetime | None
    cluster: str | None
    tags: JSON | None
    created: datetime | None
    first_seen: datetime | None
    last_seen: datetime | None

    @strawberry.field(description="The (first) VM the disk is attached to.")
    async def instance(self, info: Info) -> Instance | None:
        return await _one(info, rel.DISK_INSTANCE, self.uid, Instance)

    @strawberry.field
    async def shoot(self, info: Info) -> Shoot | None:
        return await _one(info, rel.DISK_SHOOT, self.uid, Shoot)

    @strawberry.field
    async def account(self, info: Info) -> CloudAccount | None:
        return await _one(info, rel.DISK_ACCOUNT, self.uid, CloudAccount)


@strawberry.type(description="A public IP address (Elastic IP, static or ephemeral address, floating IP).")
class IP(GraphNodeType):
    uid: str
    provider: str | None
    account_id: str | None
    region: str | None
    zone: str | None
    name: str | None
    state: str | None
    address: str | None
    ephemeral: bool | None
    allocation: str | None
    attached: bool | None
    attached_to: str | None
    cluster: str | None
    tags: JSON | None
    created: datetime | None
    first_seen: datetime | None
    last_seen: datetime | None

    @strawberry.field(description="The VM the address resolves to, when it does.")
    async def instance(self, info: Info) -> Instance | None:
        return await _one(info, rel.IP_INSTANCE, self.uid, Instance)

    @strawberry.field
    async def shoot(self, info: Info) -> Shoot | None:
        return await _one(info, rel.IP_SHOOT, self.uid, Shoot)

    @strawberry.field
    async def account(self, info: Info) -> CloudAccount | None:
        return await _one(info, rel.IP_ACCOUNT, self.uid, CloudAccount)
