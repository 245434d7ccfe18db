"""Nova servers -> InstanceRecord."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.openstack.api import SERVERS_MICROVERSION, items_of
from collectors.openstack.common import PROVIDER, parse_timestamp, string_map
from collectors.openstack.gardener import cluster_from_metadata, server_role
from collectors.records import InstanceRecord

# Nova server status -> provider-neutral status (task states that change the meaning come first).
_TASK_STATES = {"deleting": "shutting-down", "soft-deleting": "shutting-down", "powering-off": "stopping"}
_STATUSES = {
    "ACTIVE": "running", "BUILD": "pending", "REBUILD": "pending", "REBOOT": "running", "HARD_REBOOT": "running",
    "RESIZE": "running", "VERIFY_RESIZE": "running", "REVERT_RESIZE": "running", "MIGRATING": "running",
    "PASSWORD": "running", "RESCUE": "running", "SHUTOFF": "stopped", "SUSPENDED": "stopped", "PAUSED": "stopped",
    "SHELVED": "stopped", "SHELVED_OFFLOADED": "stopped", "SOFT_DELETED": "terminated", "DELETED": "terminated",
}


def neutral_status(status: str | None, task_state: str | None) -> str:
    if task_state and task_state in _TASK_STATES:
        return _TASK_STATES[task_state]
    return _STATUSES.get((status or "").upper(), "unknown")


def provider_id(server_id: str) -> str:
    # graphinv's contract for OpenStack. machine-controller-manager-provider-openstack itself writes
    # `openstack:///<region>/<uuid>`; both end in the server uuid, which is what links a Machine.
    return f"openstack:///{server_id}"


def _addresses(addresses: Any) -> tuple[str | None, str | None, str | None]:
    """(private IPv4, public/floating IPv4, network name) from Nova's `addresses` map."""
    private = public = network = None
    if not isinstance(addresses, dict):
        return None, None, None
    for net_name, entries in addresses.items():
        for entry in entries or []:
            if not isinstance(entry, dict) or entry.get("version", 4) != 4:
                continue
            kind = entry.get("OS-EXT-IPS:type", "fixed")
            if kind == "floating" and public is None:
                public = entry.get("addr")
            elif kind != "floating" and private is None:
                private, network = entry.get("addr"), net_name
    if network is None and addresses:
        network = next(iter(addresses))
    return private, public, network


def _flavor_name(flavor: Any) -> str | None:
    """Embedded flavor (microversion >= 2.47) has `original_name`; older answers only an id."""
    if not isinstance(flavor, Mapping):
        return None
    for attr in ("original_name", "name", "id"):
        value = flavor.get(attr)
        if value:
            return str(value)
    return None


def instance_record(server: Mapping[str, Any], project: str, region: str) -> InstanceRecord:
    """Map one Nova server (the API's JSON, as `GET /servers/detail` lists it) to an InstanceRecord."""
    metadata = string_map(server.get("metadata"))
    cluster = cluster_from_metadata(metadata)
    private_ip, public_ip, network = _addresses(server.get("addresses"))
    server_id, name, status = str(server["id"]), server.get("name"), server.get("status")
    return InstanceRecord(
        uid=server_id,
        provider=PROVIDER,
        account_id=project,
        region=region,
        zone=server.get("OS-EXT-AZ:availability_zone") or None,
        name=name,
        state=status.lower() if status else None,
        tags=metadata,
        created=parse_timestamp(server.get("created")),
        cluster=cluster,
        instance_type=_flavor_name(server.get("flavor")),
        status=neutral_status(status, server.get("OS-EXT-STS:task_state")),
        role=server_role(name, metadata),
        private_ip=private_ip,
        public_ip=public_ip,
        network=network,
        provider_id=provider_id(server_id),
        cluster_name_key=f"{cluster}/{name}" if cluster and name else None,
    )


def collect_instances(conn: Any, project: str, region: str,
                      max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[InstanceRecord]:
    """Stream the project's servers in `conn`'s region, page by page."""
    for server in items_of(conn.compute, "/servers/detail", "servers", f"servers of {project} in {region}",
                           max_pages, newest_microversion=SERVERS_MICROVERSION):
        yield instance_record(server, project, region)
