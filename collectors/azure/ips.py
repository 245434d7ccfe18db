"""Azure public IP addresses -> IPRecord.

A public IP names what uses it: a NIC ip configuration (then the NIC names the VM), a load
balancer frontend, or a NAT gateway. `attached_to` keeps that raw id; `instance_ref` is set when it
resolves to a VM through the subscription's NICs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network.models import PublicIPAddress

from collectors.azure.common import PROVIDER, first, lower, paged, tags_of
from collectors.azure.gardener import cluster_of
from collectors.azure.ids import key, nic_of_ip_configuration, parse
from collectors.azure.network import NicInfo, nic_index
from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.records import IPRecord


def ip_record(ip: PublicIPAddress, subscription_id: str, nics: Mapping[str, NicInfo]) -> IPRecord:
    ip_id = ip.id or ""
    parsed = parse(ip_id)
    tags = tags_of(ip.tags)
    cluster = cluster_of(tags, parsed.resource_group if parsed else None)
    location = lower(ip.location)
    props = ip.properties
    user: str | None = None
    if props is not None:
        if props.ip_configuration is not None and props.ip_configuration.id:
            user = props.ip_configuration.id
        elif props.nat_gateway is not None and props.nat_gateway.id:
            user = props.nat_gateway.id
    nic = nics.get(nic_of_ip_configuration(user) or "")
    return IPRecord(
        uid=key(ip_id),
        provider=PROVIDER,
        account_id=subscription_id,
        region=location,
        zone=first(ip.zones),
        name=ip.name,
        state=lower(props.provisioning_state) if props is not None else None,
        tags=tags,
        cluster=cluster,
        address=props.ip_address if props is not None else None,
        ephemeral=False,
        allocation=lower(props.public_ip_allocation_method) if props is not None else None,
        attached=user is not None,
        attached_to=user,
        instance_ref=nic.vm_key if nic is not None else None,
    )


def collect_ips(network: NetworkManagementClient, subscription_id: str,
                max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[IPRecord]:
    nics = nic_index(network, max_pages)
    for ip in paged(network.public_ip_addresses.list_all(), f"public IPs of subscription {subscription_id}",
                    max_pages):
        if ip.id:
            yield ip_record(ip, subscription_id, nics)
