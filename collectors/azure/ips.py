"""Azure public IP addresses -> IPRecord.

A public IP names what uses it: a NIC ip configuration (then the NIC names the VM), a load
balancer frontend, or a NAT gateway. `attached_to` keeps that raw id; `instance_ref` is set when it
resolves to a VM through the subscription's NICs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from azure.mgmt.network import NetworkManagementClient

from collectors.azure.common import PROVIDER, first, lower, tags_of
from collectors.azure.gardener import cluster_of
from collectors.azure.ids import key, nic_of_ip_configuration, parse
from collectors.azure.network import NicInfo, nic_index, public_ips
from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.json_paths import dig
from collectors.records import IPRecord


def ip_record(ip: Mapping[str, Any], subscription_id: str, nics: Mapping[str, NicInfo]) -> IPRecord:
    """One public IP address (ARM JSON as the list answers it, or the SDK's model of it) -> IPRecord."""
    ip_id = str(ip.get("id") or "")
    parsed = parse(ip_id)
    tags = tags_of(ip.get("tags"))
    cluster = cluster_of(tags, parsed.resource_group if parsed else None)
    props = ip.get("properties")
    user: str | None = dig(props, "ipConfiguration", "id") or dig(props, "natGateway", "id") or None
    nic = nics.get(nic_of_ip_configuration(user) or "")
    return IPRecord(
        uid=key(ip_id),
        provider=PROVIDER,
        account_id=subscription_id,
        region=lower(ip.get("location")),
        zone=first(ip.get("zones")),
        name=ip.get("name"),
        state=lower(dig(props, "provisioningState")),
        tags=tags,
        cluster=cluster,
        address=dig(props, "ipAddress"),
        ephemeral=False,
        allocation=lower(dig(props, "publicIPAllocationMethod")),
        attached=user is not None,
        attached_to=user,
        instance_ref=nic.vm_key if nic is not None else None,
    )


def collect_ips(network: NetworkManagementClient, subscription_id: str,
                max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[IPRecord]:
    nics = nic_index(network, max_pages)
    for ip in public_ips(network, f"public IPs of subscription {subscription_id}", max_pages):
        if ip.get("id"):
            yield ip_record(ip, subscription_id, nics)
