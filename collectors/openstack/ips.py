"""Neutron floating IPs -> IPRecord, resolved to the server behind their port."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.openstack.api import items_of
from collectors.openstack.common import PROVIDER, parse_timestamp
from collectors.openstack.gardener import cluster_from_floating_ip_description
from collectors.records import IPRecord

# Ports asked for in one Neutron list call (`?id=..&id=..`), so a URL stays short.
PORT_BATCH = 50


def _tags(raw: Any) -> dict[str, str]:
    """Neutron tags are plain strings; `key=value` ones become a key and a value."""
    tags: dict[str, str] = {}
    for tag in raw or []:
        key, _, value = str(tag).partition("=")
        tags[key] = value
    return tags


def ip_record(fip: Mapping[str, Any], port: Mapping[str, Any] | None, project: str, region: str) -> IPRecord:
    """Map one Neutron floating IP (the API's JSON); `port` is its port's details (device_id,
    device_owner) if any."""
    device_owner = str((port or {}).get("device_owner") or "")
    device_id = (port or {}).get("device_id") or None
    on_server = device_owner.startswith("compute:") and device_id is not None
    description = fip.get("description") or None
    cluster = cluster_from_floating_ip_description(description)
    status, port_id = fip.get("status"), fip.get("port_id")
    return IPRecord(
        uid=str(fip["id"]),
        provider=PROVIDER,
        account_id=project,
        region=region,
        name=description or fip.get("dns_name") or None,
        state=status.lower() if status else None,
        tags=_tags(fip.get("tags")),
        created=parse_timestamp(fip.get("created_at")),
        cluster=cluster,
        address=fip.get("floating_ip_address"),
        ephemeral=False,
        allocation="floating",
        attached=port_id is not None,
        attached_to=port_id,
        instance_ref=str(device_id) if on_server else None,
    )


def port_devices(conn: Any, port_ids: Iterable[str], max_pages: int = DEFAULT_MAX_PAGES) -> dict[str, dict[str, Any]]:
    """port id -> {device_id, device_owner} for the given ports, asked for in batches."""
    wanted = list(dict.fromkeys(port_ids))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), PORT_BATCH):
        for port in items_of(conn.network, "/ports", "ports", "ports", max_pages,
                             params={"id": wanted[start:start + PORT_BATCH]}):
            found[str(port["id"])] = {"device_id": port.get("device_id"), "device_owner": port.get("device_owner")}
    return found


def collect_ips(conn: Any, project: str, region: str, max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[IPRecord]:
    """Stream the project's floating IPs in `conn`'s region.

    Neutron's `fip-port-details` extension puts the port's device in the floating IP itself; where
    it is missing, the ports are looked up in batches (a port gone meanwhile leaves the IP unresolved).
    """
    pending: list[Mapping[str, Any]] = []

    def flush() -> Iterator[IPRecord]:
        ports = port_devices(conn, (str(f["port_id"]) for f in pending), max_pages)
        for waiting in pending:
            yield ip_record(waiting, ports.get(str(waiting["port_id"])), project, region)
        pending.clear()

    for fip in items_of(conn.network, "/floatingips", "floatingips", f"floating IPs of {project} in {region}",
                        max_pages):
        if fip.get("port_id") and fip.get("port_details") is None:
            pending.append(fip)
            if len(pending) >= PORT_BATCH:
                yield from flush()
        else:
            yield ip_record(fip, fip.get("port_details"), project, region)
    yield from flush()
