"""The clouds' side: provider-neutral Instance, Disk and IP under their CloudAccount and Region.

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
    RelationshipTo,
    StringProperty,
)

from graph_schema.base import GraphNode, LinkFrom, LinkTo

PROVIDER_LABELS = {"aws": "AWS", "gcp": "GCP", "azure": "Azure", "openstack": "OpenStack"}
# Accounts and regions are plain value nodes: a resource that names one it is the first to see
# creates it (collectors may still send CloudAccount/Region records with more detail).
ACCOUNT_FROM = {"provider": "provider", "account_id": "account_id"}
REGION_FROM = {"provider": "provider", "name": "region"}


class CloudAccount(GraphNode):
    """An AWS account, GCP project, Azure subscription or OpenStack project."""

    provider = StringProperty(index=True)
    account_id = StringProperty(index=True)
    name = StringProperty()

    instances = RelationshipTo("graph_schema.cloud.Instance", "OWNS")
    disks = RelationshipTo("graph_schema.cloud.Disk", "OWNS")
    ips = RelationshipTo("graph_schema.cloud.IP", "OWNS")


class Region(GraphNode):
    provider = StringProperty(index=True)
    name = StringProperty(index=True)


class CloudResource(GraphNode):
    __abstract_node__ = True

    provider = StringProperty(index=True)
    account_id = StringProperty(index=True)
    region = StringProperty(index=True)
    zone = StringProperty()
    name = StringProperty(index=True)
    state = StringProperty(index=True)
    tags = JSONProperty()
    created = DateTimeNeo4jFormatProperty()
    cluster = StringProperty(index=True)
    account_ref = StringProperty(index=True)
    region_ref = StringProperty(index=True)
    shoot_ref = StringProperty(index=True)


class Instance(CloudResource):
    __history__ = ("state", "status", "instance_type", "tags", "cluster", "provider_id", "shoot")

    instance_type = StringProperty()
    status = StringProperty(index=True)
    role = StringProperty(index=True)
    private_ip = StringProperty()
    public_ip = StringProperty(index=True)
    network = StringProperty()
    provider_id = StringProperty(index=True)
    cluster_name_key = StringProperty(index=True)

    account = LinkFrom("graph_schema.cloud.CloudAccount", "OWNS", via="account_ref", create_missing=ACCOUNT_FROM)
    located_in = LinkTo("graph_schema.cloud.Region", "IN_REGION", via="region_ref", create_missing=REGION_FROM)
    shoot = LinkFrom("graph_schema.gardener.Shoot", "OWNS_VM", via="shoot_ref", target_key="technical_id")
    disks = RelationshipTo("graph_schema.cloud.Disk", "HAS_DISK")
    ips = RelationshipTo("graph_schema.cloud.IP", "HAS_IP")


class Disk(CloudResource):
    __history__ = ("state", "size_gb", "disk_type", "attached", "tags", "cluster", "instance", "shoot")

    size_gb = IntegerProperty()
    disk_type = StringProperty()
    boot = BooleanProperty(default=False)
    attached = BooleanProperty(index=True, default=False)
    attached_instances = ArrayProperty(StringProperty())
    last_attached = DateTimeNeo4jFormatProperty()
    last_detached = DateTimeNeo4jFormatProperty()
    instance_ref = StringProperty(index=True)

    account = LinkFrom("graph_schema.cloud.CloudAccount", "OWNS", via="account_ref", create_missing=ACCOUNT_FROM)
    located_in = LinkTo("graph_schema.cloud.Region", "IN_REGION", via="region_ref", create_missing=REGION_FROM)
    shoot = LinkFrom("graph_schema.gardener.Shoot", "OWNS_DISK", via="shoot_ref", target_key="technical_id")
    instance = LinkFrom("graph_schema.cloud.Instance", "HAS_DISK", via="instance_ref")


class IP(CloudResource):
    __history__ = ("state", "address", "attached", "attached_to", "tags", "cluster", "instance", "shoot")

    address = StringProperty(index=True)
    ephemeral = BooleanProperty(default=False)
    allocation = StringProperty()
    attached = BooleanProperty(index=True, default=False)
    attached_to = StringProperty()
    instance_ref = StringProperty(index=True)

    account = LinkFrom("graph_schema.cloud.CloudAccount", "OWNS", via="account_ref", create_missing=ACCOUNT_FROM)
    located_in = LinkTo("graph_schema.cloud.Region", "IN_REGION", via="region_ref", create_missing=REGION_FROM)
    shoot = LinkFrom("graph_schema.gardener.Shoot", "OWNS_IP", via="shoot_ref", target_key="technical_id")
    instance = LinkFrom("graph_schema.cloud.Instance", "HAS_IP", via="instance_ref")
