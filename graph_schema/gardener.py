"""Gardener's side of the graph: Project -> Shoot -> Machine, Seed -> Shoot, Bastions.

Keys (`uid`): Project `<name>`, Seed `<name>`, Shoot `<namespace>/<name>`,
Machine `<seed>/<namespace>/<name>`, Bastion `<namespace>/<name>`.
"""

from __future__ import annotations

from neomodel import (
    ArrayProperty,
    BooleanProperty,
    DateTimeNeo4jFormatProperty,
    RelationshipTo,
    StringProperty,
)

from graph_schema.base import InventoryNode, LinkFrom, LinkTo


class Project(InventoryNode):
    """A Gardener project (uid = its name)."""

    # Remembered changes (graph_schema/history.py): these properties, and the edges of these links.
    __history__ = ("phase", "owner")

    name = StringProperty(index=True)
    namespace = StringProperty(index=True)
    owner = StringProperty()
    purpose = StringProperty()
    phase = StringProperty()
    created = DateTimeNeo4jFormatProperty()

    shoots = RelationshipTo("graph_schema.gardener.Shoot", "HAS_SHOOT")


class Seed(InventoryNode):
    """A Gardener seed (uid = its name)."""

    __history__ = ()  # appeared and gone only

    name = StringProperty(index=True)
    provider = StringProperty(index=True)
    region = StringProperty()
    created = DateTimeNeo4jFormatProperty()

    shoots = RelationshipTo("graph_schema.gardener.Shoot", "HOSTS")


class Shoot(InventoryNode):
    """A shoot cluster (uid = `<namespace>/<name>`; technicalId = `shoot--<project>--<name>`)."""

    __history__ = ("hibernated", "kubernetes_version", "seed_name", "purpose", "project")

    name = StringProperty(index=True)
    namespace = StringProperty(index=True)
    technical_id = StringProperty(index=True)
    provider = StringProperty(index=True)
    region = StringProperty()
    cloud_profile = StringProperty(index=True)  # CloudProfile uid (its name)
    seed_name = StringProperty(index=True)
    hibernated = BooleanProperty(default=False)
    purpose = StringProperty()
    created_by = StringProperty()
    credentials = StringProperty()  # name of the credentials/secret binding (never its content)
    workers = ArrayProperty(StringProperty())  # "pool:machine-type:min-max"
    kubernetes_version = StringProperty()
    created = DateTimeNeo4jFormatProperty()
    project_ref = StringProperty(index=True)  # Project uid
    seed_ref = StringProperty(index=True)  # Seed uid

    project = LinkFrom("graph_schema.gardener.Project", "HAS_SHOOT", via="project_ref")
    seed = LinkFrom("graph_schema.gardener.Seed", "HOSTS", via="seed_ref")
    profile = LinkTo("graph_schema.hardware.CloudProfile", "USES_PROFILE", via="cloud_profile")
    machines = RelationshipTo("graph_schema.gardener.Machine", "HAS_MACHINE")
    bastions = RelationshipTo("graph_schema.gardener.Bastion", "HAS_BASTION")
    owned_instances = RelationshipTo("graph_schema.cloud.Instance", "OWNS_VM")
    owned_disks = RelationshipTo("graph_schema.cloud.Disk", "OWNS_DISK")
    owned_ips = RelationshipTo("graph_schema.cloud.IP", "OWNS_IP")


class Machine(InventoryNode):
    """A machine-controller-manager Machine (uid = `<seed>/<namespace>/<name>`)."""

    __history__ = ("phase", "provider_id", "node_name", "shoot", "instance", "instance_by_name")

    name = StringProperty(index=True)
    namespace = StringProperty(index=True)  # the shoot's technical id
    seed_name = StringProperty(index=True)
    provider_id = StringProperty(index=True)
    phase = StringProperty()
    node_name = StringProperty()
    created = DateTimeNeo4jFormatProperty()
    shoot_ref = StringProperty(index=True)  # Shoot technical_id
    # The VM: by providerID when the machine has one (the key parsed from it), otherwise by the
    # VM's name within the shoot's cluster (`<technical id>/<vm name>`), never by name alone.
    instance_ref = StringProperty(index=True)
    instance_name_ref = StringProperty(index=True)

    shoot = LinkFrom("graph_schema.gardener.Shoot", "HAS_MACHINE", via="shoot_ref", target_key="technical_id")
    # By providerID first; by "<cluster>/<vm name>" only when the machine has no providerID yet.
    instance = LinkTo("graph_schema.cloud.Instance", "RUNS_ON", via="instance_ref")
    instance_by_name = LinkTo("graph_schema.cloud.Instance", "RUNS_ON", via="instance_name_ref",
                              target_key="cluster_name_key")


class Bastion(InventoryNode):
    """A Gardener Bastion (uid = `<namespace>/<name>`)."""

    __history__ = ("ingress_ip",)

    name = StringProperty(index=True)
    namespace = StringProperty(index=True)
    shoot_name = StringProperty()
    seed_name = StringProperty()
    provider = StringProperty()
    ingress_ip = StringProperty(index=True)  # a `via` of USES_VM: indexed like every link key
    created = DateTimeNeo4jFormatProperty()
    shoot_ref = StringProperty(index=True)  # Shoot uid (namespace/name)
    vm_name = StringProperty(index=True)  # the VM name the provider extension gives this bastion

    shoot = LinkFrom("graph_schema.gardener.Shoot", "HAS_BASTION", via="shoot_ref")
    # The bastion's VM: by the name its provider extension gives it (collectors/gardener/mapping.py,
    # docs/ownership.md), or by the address in status.ingress.
    vm = LinkTo("graph_schema.cloud.Instance", "USES_VM", via="vm_name", target_key="name")
    vm_by_ingress = LinkTo("graph_schema.cloud.Instance", "USES_VM", via="ingress_ip", target_key="public_ip")
