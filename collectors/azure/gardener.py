"""How a resource tells that Gardener made it for a shoot, following gardener-extension-provider-azure
and machine-controller-manager-provider-azure (sources in docs/providers/azure.md):

- worker VMs (and their NICs and disks) carry `kubernetes.io-cluster-<technical id>: 1` and
  `kubernetes.io-role-node: 1`;
- NAT gateway public IPs carry `gardener-shoot-name: <technical id>`;
- everything of a shoot lives in the resource group named like its technical id (unless the shoot
  brings its own resource group), which is how bastion VMs (tags `Name`, `Type: gardenctl`) and CSI
  volumes are recognised.

Azure tag names are case-insensitive, so they are compared lower-cased.
"""

from __future__ import annotations

from collections.abc import Mapping

CLUSTER_TAG_PREFIX = "kubernetes.io-cluster-"
NODE_ROLE_TAG = "kubernetes.io-role-node"
SHOOT_NAME_TAG = "gardener-shoot-name"
TECHNICAL_ID_PREFIX = "shoot--"


def _lowered(tags: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in tags.items()}


def cluster_of(tags: Mapping[str, str], resource_group: str | None) -> str | None:
    """The technical id of the shoot a resource belongs to, or None."""
    lowered = _lowered(tags)
    for name in lowered:
        if name.startswith(CLUSTER_TAG_PREFIX) and len(name) > len(CLUSTER_TAG_PREFIX):
            return name[len(CLUSTER_TAG_PREFIX):]
    shoot_name = lowered.get(SHOOT_NAME_TAG, "").lower()
    if shoot_name.startswith(TECHNICAL_ID_PREFIX):
        return shoot_name
    # Technical ids are lower-case DNS labels; Azure may echo the group upper-cased.
    if resource_group and resource_group.lower().startswith(TECHNICAL_ID_PREFIX):
        return resource_group.lower()
    return None


def role_of(tags: Mapping[str, str], name: str | None, cluster: str | None) -> str | None:
    """node | bastion | None for a VM."""
    lowered = _lowered(tags)
    if NODE_ROLE_TAG in lowered:
        return "node"
    if cluster is None:
        return None
    if lowered.get("type", "").lower() == "gardenctl" or (name and "-bastion-" in name.lower()):
        return "bastion"
    return None
