"""What the instance and IP collectors need to know about NICs and public IPs, read once per scope.

VMs name their NICs, NICs name their VM and public IPs, public IPs name a NIC ip configuration:
joining them needs an index. It holds ids and addresses only (a few hundred bytes per NIC), not the
SDK objects, so a large subscription stays small in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from azure.mgmt.network import NetworkManagementClient

from collectors.azure.common import paged
from collectors.azure.ids import key, parse
from collectors.base_settings import DEFAULT_MAX_PAGES


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
    for nic in paged(network.network_interfaces.list_all(), "network interfaces", max_pages):
        if nic.id:
            index[key(nic.id)] = nic_info(nic)
    return index


def nic_info(nic: Any) -> NicInfo:
    """What the index keeps of one NIC (a listed one, or one read by id for a targeted re-read)."""
    props = nic.properties
    info = NicInfo(vm_key=None, primary=bool(props and props.primary), private_ip=None)
    if props is not None:
        if props.virtual_machine is not None and props.virtual_machine.id:
            info.vm_key = key(props.virtual_machine.id)
        configs = props.ip_configurations or []
        # The primary configuration holds the address a node is known by; else the first.
        ordered = sorted(configs, key=lambda c: not (c.properties and c.properties.primary))
        for config in ordered:
            cprops = config.properties
            if cprops is None:
                continue
            if info.private_ip is None and cprops.private_ip_address:
                info.private_ip = cprops.private_ip_address
            if cprops.public_ip_address is not None and cprops.public_ip_address.id:
                info.public_ip_keys.append(key(cprops.public_ip_address.id))
            if info.network is None and cprops.subnet is not None:
                subnet = parse(cprops.subnet.id)
                if subnet is not None and subnet.is_type("Microsoft.Network", "virtualNetworks"):
                    info.network = subnet.name
    return info


def public_ip_addresses(network: NetworkManagementClient, max_pages: int = DEFAULT_MAX_PAGES) -> dict[str, str]:
    """Public IP key -> address, for those that have one."""
    addresses: dict[str, str] = {}
    for ip in paged(network.public_ip_addresses.list_all(), "public IP addresses", max_pages):
        if ip.id and ip.properties is not None and ip.properties.ip_address:
            addresses[key(ip.id)] = ip.properties.ip_address
    return addresses
