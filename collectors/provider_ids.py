"""Turn a Gardener Machine's `spec.providerID` into the Instance key the cloud collectors use.

The formats are the ones the machine-controller-manager providers write (see docs/ownership.md):

- AWS        `aws:///<zone>/<instance id>`                       -> `i-...`
- GCP        `gce:///<project>/<zone>/<name>` (what MCM's GCP driver writes) or `gce://<project>/<zone>/<name>`
                                                                 -> `projects/<p>/zones/<z>/instances/<name>`
- Azure      `azure:///subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Compute/virtualMachines/<n>`
                                                                 -> that ARM id, lower-cased
- OpenStack  `openstack:///<uuid>` or `openstack:///<region>/<uuid>` -> `<uuid>`

Anything else (empty, garbled, another provider) gives None: a Machine with a providerID we cannot
read is then linked like one without providerID, never guessed at, and never an exception.
"""

from __future__ import annotations

import re
from typing import Any

_AWS_INSTANCE = re.compile(r"^i-[0-9a-f]{8,17}$")
_GCP_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_GCP_PROJECT = re.compile(r"^[a-z][-a-z0-9.:]{4,61}[a-z0-9]$")
_GCP_ZONE = re.compile(r"^[a-z]+-[a-z]+[0-9]+-[a-z]$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_AZURE_VM = re.compile(
    r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.compute/"
    r"(virtualmachines/[^/]+|virtualmachinescalesets/[^/]+/virtualmachines/[^/]+)$"
)


def parse_provider_id(provider_id: Any) -> tuple[str, str] | None:
    """(provider, instance uid) for a providerID, or None when it is not one we can read."""
    if not isinstance(provider_id, str):
        return None
    text = provider_id.strip()
    scheme, sep, rest = text.partition("://")
    if not sep or not rest:
        return None
    scheme = scheme.lower()
    try:
        if scheme == "aws":
            return _aws(rest)
        if scheme == "gce":
            return _gcp(rest)
        if scheme == "azure":
            return _azure(rest)
        if scheme == "openstack":
            return _openstack(rest)
    except (ValueError, IndexError):  # defensive: a parser slip must not break a collection run
        return None
    return None


def instance_uid(provider_id: Any) -> str | None:
    """Just the Instance key of `parse_provider_id`."""
    parsed = parse_provider_id(provider_id)
    return parsed[1] if parsed else None


def _aws(rest: str) -> tuple[str, str] | None:
    # `/<zone>/<id>`; the zone part is informational (old machines carry the region there).
    instance = rest.rstrip("/").rsplit("/", 1)[-1]
    if _AWS_INSTANCE.match(instance):
        return "aws", instance
    return None


def _gcp(rest: str) -> tuple[str, str] | None:
    # machine-controller-manager-provider-gcp writes "gce://" + "/" + project/zone/name.
    parts = rest.lstrip("/").split("/")
    if len(parts) != 3:
        return None
    project, zone, name = parts
    if _GCP_PROJECT.match(project) and _GCP_ZONE.match(zone) and _GCP_NAME.match(name):
        return "gcp", f"projects/{project}/zones/{zone}/instances/{name}"
    return None


def _azure(rest: str) -> tuple[str, str] | None:
    arm_id = "/" + rest.lstrip("/").rstrip("/")
    lowered = arm_id.lower()
    if _AZURE_VM.match(lowered):
        return "azure", lowered
    return None


def _openstack(rest: str) -> tuple[str, str] | None:
    parts = [p for p in rest.split("/") if p]
    if not parts or len(parts) > 2:
        return None
    server = parts[-1].lower()
    if _UUID.match(server):
        return "openstack", server
    return None
