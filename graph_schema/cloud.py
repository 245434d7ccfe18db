"""The clouds' side: provider-neutral Instance, Disk and IP under their CloudAccount and Region.

Keys (`uid`) are stable, natural and provider-native where possible:
- AWS: instance id `i-...`, volume id `vol-...`, Elastic IP allocation id `eipalloc-...`;
  an instance's own (non-Elastic) public IP: `aws:<region>:<address>`.
- GCP: `projects/<p>/zones/<z>/instances/<name>`, `projects/<p>/zones/<z>/disks/<name>` (or
  `regions/<r>/disks/...`), `projects/<p>/regions/<r>/addresses/<name>` (or `global/addresses/...`);
  an instance's ephemeral external IP: `gcp:<project>:<address>`.
- Azure: the ARM resource id, lower-cased.
- OpenStack: the resource uuid.
- CloudAccount: `<provider>:<id>`; Region: `<provider>:<region>`.

Every cloud node also gets a provider label (AWS, GCP, Azure, OpenStack) so Browser users can
colour and filter by cloud; queries use the `provider` property, which is indexed.
"""

from __future__ import annotations

from neomodel import (
    ArrayProperty,
    BooleanProperty,
    DateTimeNeo4jFormatProperty,
    IntegerProperty,
    JSONProperty,
    RelationshipFrom,
    RelationshipTo,
    StringProperty,
    ZeroOrOne,
)

from graph_schema.base import ClaimFlag, DerivedKey, InventoryNode, LinkFrom, LinkTo

PROVIDER_LABELS = {"aws": "AWS", "gcp": "GCP", "azure": "Azure", "openstack": "OpenStack"}
# Accounts and regions are plain value nodes: a resource that names one it is the first to see
# creates it (collectors may still send CloudAccount/Region records with more detail).
ACCOUNT_FROM = {"provider": "provider", "account_id": "account_id"}
REGION_FROM = {"provider": "provider", "name": "region"}


class CloudAccount(InventoryNode):
    """An AWS account, GCP project, Azure subscription or OpenStack project (uid = `<provider>:<id>`)."""

    provider = StringProperty(index=True)
    account_id = StringProperty(index=True)
    name = StringProperty()

    instances = RelationshipTo("graph_schema.cloud.Instance", "OWNS")
    disks = RelationshipTo("graph_schema.cloud.Disk", "OWNS")
    ips = RelationshipTo("graph_schema.cloud.IP", "OWNS")


class Region(InventoryNode):
    """A cloud region (uid = `<provider>:<region>`)."""

    provider = StringProperty(index=True)
    name = StringProperty(index=True)


class CloudResource(InventoryNode):
    """Fields every Instance, Disk and IP has."""

    __abstract_node__ = True

    provider = StringProperty(index=True)
    account_id = StringProperty(index=True)
    region = StringProperty(index=True)
    zone = StringProperty()
    name = StringProperty(index=True)
    state = StringProperty(index=True)  # provider-native state, lower-cased
    tags = JSONProperty()
    created = DateTimeNeo4jFormatProperty()
    # The technical id of the shoot whose cluster tag/label/resource group the resource carries.
    cluster = StringProperty(index=True)
    # Link keys the engine derives, so collectors only say provider, account, region and cluster.
    account_ref = DerivedKey("{provider}:{account_id}", index=True)  # CloudAccount uid
    region_ref = DerivedKey("{provider}:{region}", index=True)  # Region uid
    shoot_ref = DerivedKey("{cluster}", index=True)  # Shoot technical_id
    # When a Machine or Shoot pointing here last changed or went (watch events, re-lists and the sweep
    # of a complete Gardener read stamp it; surfaces.STAMP_PROPERTIES): newer than `last_seen` means
    # the cloud side has not confirmed since, and the orphan rules wait (queries/orphan_instances.cypher).
    owner_changed_at = DateTimeNeo4jFormatProperty()
    # The orphan lifecycle's facts (graphinv/history/lifecycle.py), kept on the resource so the orphan
    # queries return them with each row instead of a history lookup per row. Bookkeeping the engine and
    # the report write, never a collector (surfaces.STAMP_PROPERTIES):
    # - the last published loss of an edge that made the resource needed (NEEDED_BY_RELS): when, and
    #   [start label, start uid, relationship type] of that edge (graphinv.ingest.changes.publish_clause);
    lost_edge_at = DateTimeNeo4jFormatProperty()
    lost_edge = ArrayProperty(StringProperty())
    # - its open OrphanFinding's `orphan_since`, and what that finding recorded (provider, account,
    #   project, evidence; '' for none), so a report that repeats the last one writes nothing.
    orphan_since = DateTimeNeo4jFormatProperty()
    orphan_finding = ArrayProperty(StringProperty())


# The edges that make a cloud resource needed: a Machine running on a VM, a VM's disks and IPs, and
# what a shoot owns. An orphan's evidence is the last loss of one of them.
NEEDED_BY_RELS = ("RUNS_ON", "HAS_DISK", "HAS_IP", "OWNS_VM", "OWNS_DISK", "OWNS_IP")


class Instance(CloudResource):
    """A VM of any cloud. `status` is provider-neutral; `state` is the provider's own."""

    # Remembered changes (graph_schema/history.py): these properties, and the edges of these links.
    __history__ = ("state", "status", "instance_type", "tags", "cluster", "provider_id", "shoot")

    instance_type = StringProperty()
    # running | stopped | terminated | pending | stopping | shutting-down | deallocated | unknown
    status = StringProperty(index=True)  # the provider-neutral state derived from `state`
    role = StringProperty(index=True)  # node | bastion | None (not Gardener's)
    private_ip = StringProperty()
    public_ip = StringProperty(index=True)
    network = StringProperty()  # VPC / network / vnet
    provider_id = StringProperty(index=True)  # the providerID a Machine would carry for this VM
    cluster_name_key = StringProperty(index=True)  # "<cluster>/<name>" for the machine name fallback
    # The cloud catalogue's MachineType of this type in this region (graph_schema/hardware.py).
    machine_type_ref = DerivedKey("{provider}:{region}:{instance_type}", index=True)
    # A Machine runs on it or a Bastion uses it (kept by the engine; the orphan query's entry point).
    claimed = ClaimFlag(rels=("RUNS_ON", "USES_VM"))

    account = LinkFrom("graph_schema.cloud.CloudAccount", "OWNS", via="account_ref", create_missing=ACCOUNT_FROM)
    located_in = LinkTo("graph_schema.cloud.Region", "IN_REGION", via="region_ref", create_missing=REGION_FROM)
    shoot = LinkFrom("graph_schema.gardener.Shoot", "OWNS_VM", via="shoot_ref", target_key="technical_id")
    disks = RelationshipTo("graph_schema.cloud.Disk", "HAS_DISK")
    ips = RelationshipTo("graph_schema.cloud.IP", "HAS_IP")
    machine = RelationshipFrom("graph_schema.gardener.Machine", "RUNS_ON", cardinality=ZeroOrOne)
    machine_type = LinkTo("graph_schema.hardware.MachineType", "OF_TYPE", via="machine_type_ref")


class Disk(CloudResource):
    """A block volume / managed disk of any cloud."""

    __history__ = ("state", "size_gb", "disk_type", "attached", "tags", "cluster", "instance", "shoot")

    size_gb = IntegerProperty()
    disk_type = StringProperty()
    boot = BooleanProperty(default=False)
    attached = BooleanProperty(index=True, default=False)
    attached_instances = ArrayProperty(StringProperty())  # all instance uids (multi-attach)
    last_attached = DateTimeNeo4jFormatProperty()
    last_detached = DateTimeNeo4jFormatProperty()
    instance_ref = StringProperty(index=True)  # the (first) instance it is attached to

    account = LinkFrom("graph_schema.cloud.CloudAccount", "OWNS", via="account_ref", create_missing=ACCOUNT_FROM)
    located_in = LinkTo("graph_schema.cloud.Region", "IN_REGION", via="region_ref", create_missing=REGION_FROM)
    shoot = LinkFrom("graph_schema.gardener.Shoot", "OWNS_DISK", via="shoot_ref", target_key="technical_id")
    instance = LinkFrom("graph_schema.cloud.Instance", "HAS_DISK", via="instance_ref")


class IP(CloudResource):
    """A public IP address (Elastic IP, static or ephemeral address, floating IP)."""

    __history__ = ("state", "address", "attached", "attached_to", "tags", "cluster", "instance", "shoot")

    address = StringProperty(index=True)
    ephemeral = BooleanProperty(default=False)  # an instance's own public address, gone with the instance
    allocation = StringProperty()  # static | dynamic | elastic | floating
    attached = BooleanProperty(index=True, default=False)
    attached_to = StringProperty()  # raw target (ENI, NIC ipConfiguration, port, LB, ...)
    instance_ref = StringProperty(index=True)  # the instance it resolves to, when it does

    account = LinkFrom("graph_schema.cloud.CloudAccount", "OWNS", via="account_ref", create_missing=ACCOUNT_FROM)
    located_in = LinkTo("graph_schema.cloud.Region", "IN_REGION", via="region_ref", create_missing=REGION_FROM)
    shoot = LinkFrom("graph_schema.gardener.Shoot", "OWNS_IP", via="shoot_ref", target_key="technical_id")
    instance = LinkFrom("graph_schema.cloud.Instance", "HAS_IP", via="instance_ref")
