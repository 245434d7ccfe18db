"""ARM resource ids. Azure treats them case-insensitively and returns them in mixed case (an
upper-cased resource group in a disk's `managedBy`, `resourcegroups` in some references), so every
comparison here goes through `key()`.
"""

from __future__ import annotations

from dataclasses import dataclass


def key(resource_id: str) -> str:
    """The comparable (and graph) form of an ARM id: lower-cased, without a trailing slash."""
    return resource_id.strip().rstrip("/").lower()


@dataclass(frozen=True)
class ResourceId:
    subscription: str
    resource_group: str
    namespace: str  # e.g. Microsoft.Compute
    type: str  # e.g. virtualMachines
    name: str
    # (type, name) pairs below the top-level resource, e.g. [("ipConfigurations", "ipconfig1")]
    children: tuple[tuple[str, str], ...] = ()

    @property
    def top_level(self) -> str:
        """The id of the top-level resource (without child segments), in canonical spelling."""
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/{self.namespace}/{self.type}/{self.name}")

    def is_type(self, namespace: str, rtype: str) -> bool:
        return self.namespace.lower() == namespace.lower() and self.type.lower() == rtype.lower()


def parse(resource_id: str | None) -> ResourceId | None:
    """Split `/subscriptions/s/resourceGroups/rg/providers/NS/type/name[/childType/childName...]`;
    None for anything else (ids of other shapes are kept raw by callers)."""
    if not resource_id:
        return None
    parts = [p for p in resource_id.split("/") if p]
    lowered = [p.lower() for p in parts]
    if (len(parts) < 7 or lowered[0] != "subscriptions" or lowered[2] != "resourcegroups"
            or lowered[4] != "providers" or len(parts) % 2 == 1):
        return None
    rest = parts[8:]
    children = tuple((rest[i], rest[i + 1]) for i in range(0, len(rest), 2))
    return ResourceId(subscription=parts[1], resource_group=parts[3], namespace=parts[5], type=parts[6],
                      name=parts[7], children=children)


def vm_provider_id(vm_id: str) -> str | None:
    """The providerID machine-controller-manager gives the Machine backed by this VM."""
    parsed = parse(vm_id)
    if parsed is None or not parsed.is_type("Microsoft.Compute", "virtualMachines"):
        return None
    return (f"azure:///subscriptions/{parsed.subscription}/resourceGroups/{parsed.resource_group}"
            f"/providers/Microsoft.Compute/virtualMachines/{parsed.name}")


def nic_of_ip_configuration(ip_configuration_id: str | None) -> str | None:
    """The NIC key an `.../networkInterfaces/<nic>/ipConfigurations/<name>` id belongs to, if it is one."""
    parsed = parse(ip_configuration_id)
    if parsed is None or not parsed.is_type("Microsoft.Network", "networkInterfaces"):
        return None
    return key(parsed.top_level)
