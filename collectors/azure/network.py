"""What the instance and IP collectors need to know about NICs and public IPs, read once per scope.

VMs name their NICs, NICs name their VM and public IPs, public IPs name a NIC ip configuration:
joining them needs an index. It holds ids and addresses only (a few hundred bytes per NIC), not the
SDK objects, so a large subscription stays small in memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from azure.mgmt.network import NetworkManagementClient

from collectors.azure.arm import NETWORK_API, arm_items, subscription_path
from collectors.azure.ids import key, parse
from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.json_paths import dig


@dataclass
class NicInfo:
    vm_key: str | None  # key of the VM it is attached to
    primary: bool
    private_ip: str | None  # of the primary ip configuration
    public_ip_keys: list[str] = field(default_factory=list)  # keys of its public IP resources
    network: str | None = None  # virtual network name


def nic_index(network: NetworkManagementClient, max_pages: int = DEFAULT_MAX_PAGES) -> dict[str, NicInfo]:
    """NIC key -> NicInfo for every NIC of the client's subscription."""
    index: dict[str, NicInfo] = {}
    nics = arm_items(network, subscription_path(network, "Microsoft.Network/networkInterfaces"), NETWORK_API,
                     "network interfaces", max_pages)
    for nic in nics:
        if nic.get("id"):
            index[key(nic["id"])] = nic_info(nic)
    return index


def nic_info(nic: Mapping[str, Any]) -> NicInfo:
    """What the index keeps of one NIC (ARM JSON as listed, or the SDK's model of one read by id for
    a targeted re-read)."""
    props = nic.get("properties")
    info = NicInfo(vm_key=None, primary=bool(dig(props, "primary")), private_ip=None)
    vm_id = dig(props, "virtualMachine", "id")
    if vm_id:
        info.vm_key = key(vm_id)
    configs = [c for c in dig(props, "ipConfigurations") or () if isinstance(c, Mapping)]
    # The primary configuration holds the address a node is known by; else the first.
    ordered = sorted(configs, key=lambda c: not dig(c, "properties", "primary"))
    for config in ordered:
        cprops = config.get("properties")
        if not isinstance(cprops, Mapping):
            continue
        if info.private_ip is None and cprops.get("privateIPAddress"):
            info.private_ip = cprops["privateIPAddress"]
        public_id = dig(cprops, "publicIPAddress", "id")
        if public_id:
            info.public_ip_keys.append(key(public_id))
        if info.network is None and isinstance(cprops.get("subnet"), Mapping):
            subnet = parse(dig(cprops, "subnet", "id"))
            if subnet is not None and subnet.is_type("Microsoft.Network", "virtualNetworks"):
                info.network = subnet.name
    return info


def public_ips(network: NetworkManagementClient, what: str,
               max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[dict[str, Any]]:
    """The client's subscription's public IP addresses, as ARM lists them."""
    return arm_items(network, subscription_path(network, "Microsoft.Network/publicIPAddresses"), NETWORK_API, what,
                     max_pages)


def public_ip_addresses(network: NetworkManagementClient, max_pages: int = DEFAULT_MAX_PAGES) -> dict[str, str]:
    """Public IP key -> address, for those that have one."""
    addresses: dict[str, str] = {}
    for ip in public_ips(network, "public IP addresses", max_pages):
        address = dig(ip, "properties", "ipAddress")
        if ip.get("id") and address:
            addresses[key(ip["id"])] = address
    return addresses
