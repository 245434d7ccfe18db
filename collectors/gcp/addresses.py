"""Reserved external IP addresses (regional and global) -> IPRecord.

Only EXTERNAL addresses are collected: graphinv's IP nodes are public addresses (unused ones cost
money and are what the orphan queries look for); INTERNAL reservations are private subnet IPs.
Regional addresses come from the aggregated list; global ones from globalAddresses.list, and a
`global` scope in the aggregated answer is skipped so no address is read twice.
"""

from __future__ import annotations

from collections.abc import Iterator

from google.api_core import gapic_v1
from google.api_core.retry import Retry
from google.cloud import compute_v1

from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.gcp import gardener_marks
from collectors.gcp.paging import aggregated_items, list_items
from collectors.gcp.timestamps import parse_timestamp
from collectors.gcp.urls import is_instance_url, last_segment, resource_path
from collectors.records import IPRecord

GLOBAL = "global"


def is_external(address: compute_v1.Address) -> bool:
    # The API's default for an unset type is EXTERNAL.
    return address.address_type in ("", "EXTERNAL", "UNSPECIFIED_TYPE")


def address_uid(project: str, address: compute_v1.Address) -> str:
    if address.region:
        return f"projects/{project}/regions/{last_segment(address.region)}/addresses/{address.name}"
    return f"projects/{project}/global/addresses/{address.name}"


def address_record(project: str, address: compute_v1.Address) -> IPRecord:
    region = last_segment(address.region) or GLOBAL
    labels = dict(address.labels)
    cluster = gardener_marks.cluster_of(labels)
    users = [resource_path(u) for u in address.users]
    instances = [u for u in users if is_instance_url(u)]
    return IPRecord(
        uid=address_uid(project, address),
        provider="gcp",
        account_id=project,
        region=region,
        name=address.name,
        state=address.status.lower() if address.status else None,
        tags=labels,
        created=parse_timestamp(address.creation_timestamp),
        cluster=cluster,
        address=address.address or None,
        ephemeral=False,
        allocation="static",
        attached=bool(users) or address.status == "IN_USE",
        attached_to=users[0] if users else None,
        instance_ref=instances[0] if instances else None,
    )


def iter_addresses(addresses_client: compute_v1.AddressesClient,
                   global_client: compute_v1.GlobalAddressesClient, project: str,
                   retry: Retry | None = None,
                   page_size: int | None = None, timeout: float | None = None,
                   max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[compute_v1.Address]:
    """Every address of the project (internal ones too), regional first, then global."""
    regional = compute_v1.AggregatedListAddressesRequest(project=project)
    glob = compute_v1.ListGlobalAddressesRequest(project=project)
    if page_size:
        regional.max_results = page_size
        glob.max_results = page_size
    how = retry if retry is not None else gapic_v1.method.DEFAULT
    limit = timeout or gapic_v1.method.DEFAULT
    pager = addresses_client.aggregated_list(request=regional, retry=how, timeout=limit)
    for scope, scoped in aggregated_items(pager, f"addresses of {project}", max_pages):
        if scope == GLOBAL:
            continue
        yield from scoped.addresses
    yield from list_items(global_client.list(request=glob, retry=how, timeout=limit),
                          f"global addresses of {project}", max_pages)


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
    return frozenset(a.address for a in addresses if a.address and is_external(a))
