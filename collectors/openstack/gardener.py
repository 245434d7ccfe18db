"""What Gardener leaves on OpenStack resources, and how we read a shoot and a role from it.

Sources (cited in docs/providers/openstack.md):
- gardener-extension-provider-openstack pkg/controller/worker/machines.go: machine class `tags`
  `kubernetes.io-cluster-<technical id>: "1"` and `kubernetes.io-role-node: "1"`, which
  machine-controller-manager-provider-openstack passes to Nova as server metadata.
- gardener-extension-provider-openstack pkg/controller/bastion/options.go: the bastion server is
  named `<(technical id + "-" + bastion name) cut to 33 chars>-bastion-<5 hex>` and has no metadata.
- kubernetes/cloud-provider-openstack: Cinder CSI volumes carry `cinder.csi.openstack.org/cluster`
  (Gardener passes `--cluster=<technical id>`), LoadBalancer floating IPs are described as
  `Floating IP for Kubernetes external service <svc> from cluster <cluster name>` (Gardener passes
  `--cluster-name=<technical id>`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

CLUSTER_TAG_PREFIX = "kubernetes.io-cluster-"
ROLE_NODE_TAG = "kubernetes.io-role-node"
CSI_CLUSTER_KEY = "cinder.csi.openstack.org/cluster"

_BASTION_NAME = re.compile(r"^shoot--.{1,26}-bastion-[0-9a-f]{5}$")
_LB_FIP_DESCRIPTION = re.compile(r"^Floating IP for Kubernetes external service .* from cluster (?P<cluster>\S+)$")


def cluster_from_metadata(metadata: Mapping[str, str]) -> str | None:
    for key in metadata:
        if key.startswith(CLUSTER_TAG_PREFIX) and len(key) > len(CLUSTER_TAG_PREFIX):
            return key[len(CLUSTER_TAG_PREFIX):]
    return None


def server_role(name: str | None, metadata: Mapping[str, str]) -> str | None:
    if ROLE_NODE_TAG in metadata:
        return "node"
    if name and _BASTION_NAME.match(name):
        return "bastion"
    return None


def cluster_from_volume_metadata(metadata: Mapping[str, str]) -> str | None:
    value = metadata.get(CSI_CLUSTER_KEY)
    return value or cluster_from_metadata(metadata)


def cluster_from_floating_ip_description(description: str | None) -> str | None:
    match = _LB_FIP_DESCRIPTION.match(description or "")
    return match["cluster"] if match else None
