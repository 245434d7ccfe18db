"""GCE providerIDs <-> graphinv instance keys.

graphinv writes `gce://<project>/<zone>/<name>` (the form the kubelet / cloud-controller-manager
put on Nodes). machine-controller-manager-provider-gcp builds a Machine's providerID as
`"gce://" + "/" + project/zone/name`, i.e. `gce:///<project>/<zone>/<name>` with three slashes, so
parsing accepts both.
"""

from __future__ import annotations

PREFIX = "gce://"


def format_provider_id(project: str, zone: str, name: str) -> str:
    return f"{PREFIX}{project}/{zone}/{name}"


def instance_uid_from_provider_id(provider_id: str) -> str | None:
    """`gce://p/z/n` or `gce:///p/z/n` -> `projects/p/zones/z/instances/n`; None if not a GCE id."""
    if not provider_id.startswith(PREFIX):
        return None
    parts = provider_id[len(PREFIX):].lstrip("/").split("/")
    if len(parts) != 3 or not all(parts):
        return None
    project, zone, name = parts
    return f"projects/{project}/zones/{zone}/instances/{name}"
