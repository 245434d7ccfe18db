"""What collectors produce: plain, provider-neutral records. Nothing here knows of Neo4j.

Each record type names the graph label it becomes (`label`) and carries a natural key (`uid`) plus
the fields users filter on. Fields ending in `_ref` are references to other nodes by their key
(or by another indexed property, as graph_schema declares); the ingest engine turns them into
edges, in whichever order the two ends arrive.

Key formats (stable, natural, provider-native where possible):
- AWS: instance id `i-...`, volume id `vol-...`, Elastic IP allocation id `eipalloc-...`;
  an instance's own (non-Elastic) public IP: `aws:<region>:<address>`.
- GCP: `projects/<p>/zones/<z>/instances/<name>`, `projects/<p>/zones/<z>/disks/<name>` (or
  `regions/<r>/disks/...`), `projects/<p>/regions/<r>/addresses/<name>` (or `global/addresses/...`);
  an instance's ephemeral external IP: `gcp:<project>:<address>`.
- Azure: the ARM resource id, lower-cased.
- OpenStack: the resource uuid.
- Gardener: Project `<name>`, Seed `<name>`, Shoot `<namespace>/<name>`,
  Machine `<seed>/<namespace>/<name>`, Bastion `<namespace>/<name>`.
- CloudAccount: `<provider>:<id>`; Region: `<provider>:<region>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar


@dataclass
class Record:
    label: ClassVar[str]
    uid: str


# -- Gardener -----------------------------------------------------------------------------------
@dataclass
class ProjectRecord(Record):
    label: ClassVar[str] = "Project"
    name: str = ""
    namespace: str | None = None
    owner: str | None = None
    purpose: str | None = None
    phase: str | None = None
    created: datetime | None = None


@dataclass
class SeedRecord(Record):
    label: ClassVar[str] = "Seed"
    name: str = ""
    provider: str | None = None
    region: str | None = None
    created: datetime | None = None


@dataclass
class ShootRecord(Record):
    label: ClassVar[str] = "Shoot"
    name: str = ""
    namespace: str = ""
    technical_id: str | None = None
    provider: str | None = None
    region: str | None = None
    cloud_profile: str | None = None
    seed_name: str | None = None
    hibernated: bool = False
    purpose: str | None = None
    created_by: str | None = None
    credentials: str | None = None  # name of the credentials/secret binding (never its content)
    workers: list[str] = field(default_factory=list)  # "pool:machine-type:min-max"
    kubernetes_version: str | None = None
    created: datetime | None = None
    project_ref: str | None = None  # Project uid
    seed_ref: str | None = None  # Seed uid


@dataclass
class MachineRecord(Record):
    label: ClassVar[str] = "Machine"
    name: str = ""
    namespace: str = ""  # the shoot's technical id
    seed_name: str = ""
    provider_id: str | None = None
    phase: str | None = None
    node_name: str | None = None
    created: datetime | None = None
    shoot_ref: str | None = None  # Shoot technical_id
    # The VM: by providerID when the machine has one (the key parsed from it), otherwise by the
    # VM's name within the shoot's cluster (`<technical id>/<vm name>`), never by name alone.
    instance_ref: str | None = None
    instance_name_ref: str | None = None


@dataclass
class BastionRecord(Record):
    label: ClassVar[str] = "Bastion"
    name: str = ""
    namespace: str = ""
    shoot_name: str | None = None
    seed_name: str | None = None
    provider: str | None = None
    ingress_ip: str | None = None
    created: datetime | None = None
    shoot_ref: str | None = None  # Shoot uid (namespace/name)


# -- Cloud --------------------------------------------------------------------------------------
@dataclass
class CloudAccountRecord(Record):
    label: ClassVar[str] = "CloudAccount"
    provider: str = ""
    account_id: str = ""
    name: str | None = None


@dataclass
class RegionRecord(Record):
    label: ClassVar[str] = "Region"
    provider: str = ""
    name: str = ""


@dataclass
class CloudResource(Record):
    """Fields every Instance, Disk and IP has."""

    provider: str = ""
    account_id: str = ""
    region: str | None = None
    zone: str | None = None
    name: str | None = None
    state: str | None = None  # provider-native state, lower-cased
    tags: dict[str, str] = field(default_factory=dict)
    created: datetime | None = None
    # The technical id of the shoot whose cluster tag/label/resource group the resource carries.
    cluster: str | None = None
    account_ref: str | None = None  # CloudAccount uid
    region_ref: str | None = None  # Region uid
    shoot_ref: str | None = None  # Shoot technical_id (same value as `cluster`)


@dataclass
class InstanceRecord(CloudResource):
    label: ClassVar[str] = "Instance"
    instance_type: str | None = None
    # running | stopped | terminated | pending | stopping | shutting-down | deallocated | unknown
    status: str | None = None  # the provider-neutral state derived from `state`
    role: str | None = None  # node | bastion | None (not Gardener's)
    private_ip: str | None = None
    public_ip: str | None = None
    network: str | None = None  # VPC / network / vnet
    provider_id: str | None = None  # the providerID a Machine would carry for this VM
    cluster_name_key: str | None = None  # "<cluster>/<name>" for the machine name fallback


@dataclass
class DiskRecord(CloudResource):
    label: ClassVar[str] = "Disk"
    size_gb: int | None = None
    disk_type: str | None = None
    boot: bool = False
    attached: bool = False
    attached_instances: list[str] = field(default_factory=list)  # all instance uids (multi-attach)
    last_attached: datetime | None = None
    last_detached: datetime | None = None
    instance_ref: str | None = None  # the (first) instance it is attached to


@dataclass
class IPRecord(CloudResource):
    label: ClassVar[str] = "IP"
    address: str | None = None
    ephemeral: bool = False  # an instance's own public address, gone with the instance
    allocation: str | None = None  # static | dynamic | elastic | floating
    attached: bool = False
    attached_to: str | None = None  # raw target (ENI, NIC ipConfiguration, port, LB, ...)
    instance_ref: str | None = None  # the instance it resolves to, when it does


RECORD_TYPES: tuple[type[Record], ...] = (
    ProjectRecord, SeedRecord, ShootRecord, MachineRecord, BastionRecord,
    CloudAccountRecord, RegionRecord, InstanceRecord, DiskRecord, IPRecord,
)
