"""Hardware: what a VM, a worker pool, a shoot really has (vCPUs, memory, GPUs).

Two sources describe machine types, and each writes its own MachineType nodes (`source` says which):
- a Gardener CloudProfile (the landscape's own catalogue): uid `cloudprofile:<profile>:<type>`,
  `region` empty (a profile lists its types for all of its regions), `usable` as the profile says;
- a cloud's catalogue read in one region (AWS DescribeInstanceTypes, GCP machineTypes, Azure
  resourceSkus, OpenStack flavors): uid `<provider>:<region>:<type>`, the key an Instance's
  `machine_type_ref` derives from its provider, region and instance type.
Keeping both apart lets a disagreement (a different vCPU count, a type the profile calls usable
that the region no longer offers) be seen with both values side by side (queries/*_drift*.cypher).
"""

from __future__ import annotations

from neomodel import ArrayProperty, BooleanProperty, IntegerProperty, RelationshipFrom, RelationshipTo, StringProperty

from graph_schema.base import InventoryNode, LinkFrom


class CloudProfile(InventoryNode):
    """A Gardener CloudProfile (uid = its name)."""

    __history__ = ("regions",)

    name = StringProperty(index=True)
    provider = StringProperty(index=True)  # spec.type
    regions = ArrayProperty(StringProperty())  # spec.regions[].name
    volume_types = ArrayProperty(StringProperty())  # spec.volumeTypes[].name

    machine_types = RelationshipTo("graph_schema.hardware.MachineType", "OFFERS")
    shoots = RelationshipFrom("graph_schema.gardener.Shoot", "USES_PROFILE")


class MachineType(InventoryNode):
    """A machine type as one source describes it (uid: see the module docstring)."""

    __history__ = ("vcpus", "memory_mib", "gpu_count", "gpu_model", "usable")

    provider = StringProperty(index=True)
    region = StringProperty(index=True)  # empty for a CloudProfile's entry
    name = StringProperty(index=True)
    vcpus = IntegerProperty()
    memory_mib = IntegerProperty()
    gpu_count = IntegerProperty()
    gpu_model = StringProperty()
    architecture = StringProperty()  # amd64 | arm64
    usable = BooleanProperty(default=True)  # a CloudProfile's `usable`; the clouds' types are usable
    cloud_profile = StringProperty(index=True)  # the profile listing it (CloudProfile entries only)

    profile = LinkFrom("graph_schema.hardware.CloudProfile", "OFFERS", via="cloud_profile")
