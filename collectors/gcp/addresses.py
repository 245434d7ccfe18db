"""Reserved external IP addresses (regional and global) -> IPRecord.

Only EXTERNAL addresses are collected: graphinv's IP nodes are public addresses (unused ones cost
money and are what the orphan queries look for); INTERNAL reservations are private subnet IPs.
Regional addresses come from the aggregated list; global ones from globalAddresses.list, and a
`global` scope in the aggregated answer is skipped so no address is read twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from google.api_core.retry import Retry
from google.cloud import compute_v1

from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.gcp import gardener_marks
from collectors.gcp.rest import aggregated_items, api_json, global_address_items
from collectors.gcp.timestamps import parse_timestamp
from collectors.gcp.urls import is_instance_url, last_segment, resource_path
from collectors.records import IPRecord

GLOBAL = "global"
Address = Mapping[str, Any] | compute_v1.Address


def is_external(address: Address) -> bool:
    # The API's default for an unset type is EXTERNAL.
    return api_json(address).get("addressType", "") in ("", "EXTERNAL", "UNSPECIFIED_TYPE")


def address_uid(project: str, address: Mapping[str, Any]) -> str:
    region, name = address.get("region"), address.get("name", "")
    if region:
        return f"projects/{project}/regions/{last_segment(region)}/addresses/{name}"
    return f"projects/{project}/global/addresses/{name}"


def address_record(project: str, item: Address) -> IPRecord:
    """One address, as the API's JSON (or the SDK's message of it)."""
    address = api_json(item)
    region = last_segment(address.get("region", "")) or GLOBAL
    labels = dict(address.get("labels") or {})
    cluster = gardener_marks.cluster_of(labels)
    users = [resource_path(u) for u in address.get("users") or ()]
    instances = [u for u in users if is_instance_url(u)]
    status = address.get("status", "")
    return IPRecord(
        uid=address_uid(project, address),
        provider="gcp",
        account_id=project,
        region=region,
        name=address.get("name", ""),
        state=status.lower() if status else None,
        tags=labels,
        created=parse_timestamp(address.get("creationTimestamp")),
        cluster=cluster,
        address=address.get("address") or None,
        ephemeral=False,
        allocation="static",
        attached=bool(users) or status == "IN_USE",
        attached_to=users[0] if users else None,
        instance_ref=instances[0] if instances else None,
    )


def iter_addresses(addresses_client: compute_v1.AddressesClient,
                   global_client: compute_v1.GlobalAddressesClient, project: str,
                   retry: Retry | None = None,
                   page_size: int | None = None, timeout: float | None = None,
                   max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[dict[str, Any]]:
    """Every address of the project (internal ones too) as the API's JSON, regional first, then
    global (through the clients' own transports: collectors/gcp/rest.py)."""
    for scope, address in aggregated_items(addresses_client, project, "addresses", f"addresses of {project}", retry,
                                           page_size, timeout, max_pages):
        if scope != GLOBAL:
            yield address
    yield from global_address_items(global_client, project, f"global addresses of {project}", retry, page_size,
                                    timeout, max_pages)


def collect_addresses(addresses_client: compute_v1.AddressesClient,
                      global_client: compute_v1.GlobalAddressesClient, project: str,
                      retry: Retry | None = None,
                      page_size: int | None = None, timeout: float | None = None,
                      max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[IPRecord]:
    for address in iter_addresses(addresses_client, global_client, project, retry, page_size, timeout, max_pages):
        if is_external(address):
            yield address_record(project, address)


def reserved_external_ips(addresses_client: compute_v1.AddressesClient,
                          global_client: compute_v1.GlobalAddressesClient, project: str,
                          retry: Retry | None = None, timeout: float | None = None,
                          max_pages: int = DEFAULT_MAX_PAGES) -> frozenset[str]:
    """The project's reserved external addresses: an instance's NAT IP in here is not ephemeral."""
    addresses = iter_addresses(addresses_client, global_client, project, retry, None, timeout, max_pages)
    return frozenset(a["address"] for a in addresses if a.get("address") and is_external(a))
