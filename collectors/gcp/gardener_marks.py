"""How a Compute Engine resource says which Gardener shoot it belongs to.

What gardener-extension-provider-gcp really sets (see docs/providers/gcp.md for the sources):
- worker VMs and their disks: label `k8s-cluster-name=<technical id>` (plus `name=<shoot name>`
  and the pool's own labels); VMs also get the network tags `<technical id>`,
  `kubernetes-io-cluster-<technical id>` and `kubernetes-io-role-node`;
- disks of PersistentVolumes: label `k8s-cluster-name=<technical id>` (CSI driver `--extra-labels`);
- bastion VMs: no labels; name `<technical id, cut at 33 chars>-bastion-<5 hex>` and that name as
  their only network tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

CLUSTER_LABEL = "k8s-cluster-name"
CLUSTER_TAG_PREFIX = "kubernetes-io-cluster-"
NODE_ROLE_TAG = "kubernetes-io-role-node"
TECHNICAL_ID_PREFIX = "shoot--"
_BASTION_NAME = re.compile(r"^(?P<base>.+)-bastion-[0-9a-f]{5}$")


def cluster_of(labels: Mapping[str, str], network_tags: Iterable[str] = ()) -> str | None:
    """The shoot technical id the resource is marked with, or None."""
    value = labels.get(CLUSTER_LABEL)
    if value and value.startswith(TECHNICAL_ID_PREFIX):
        return value
    for tag in network_tags:
        if tag.startswith(CLUSTER_TAG_PREFIX + TECHNICAL_ID_PREFIX):
            return tag[len(CLUSTER_TAG_PREFIX):]
    # A bastion's name holds `<technical id>-<bastion name>` cut to 33 characters; the cut and the
    # hyphens inside shoot and bastion names make the technical id unrecoverable, so no guess.
    return None


def is_bastion_name(name: str) -> bool:
    match = _BASTION_NAME.match(name)
    return bool(match and match.group("base").startswith(TECHNICAL_ID_PREFIX))


def role_of(network_tags: Iterable[str], name: str) -> str | None:
    """node | bastion | None (a VM Gardener did not create)."""
    tags = set(network_tags)
    if NODE_ROLE_TAG in tags and any(t.startswith(CLUSTER_TAG_PREFIX + TECHNICAL_ID_PREFIX) for t in tags):
        return "node"
    if is_bastion_name(name):
        return "bastion"
    return None
