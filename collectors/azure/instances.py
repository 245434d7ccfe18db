"""Azure virtual machines -> InstanceRecord.

VMs are listed subscription-wide with `statusOnly=true`, which makes ARM include each VM's
instance view (and so its power state) in the list instead of one request per VM. Addresses come
from the NICs the VM names and the public IPs those NICs name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient

from collectors.azure.arm import VIRTUAL_MACHINES_API, arm_items, subscription_path
from collectors.azure.common import PROVIDER, arm_time, first, lower, tags_of, text
from collectors.azure.gardener import cluster_of, role_of
from collectors.azure.ids import key, parse, vm_provider_id
from collectors.azure.network import NicInfo, nic_index, public_ip_addresses
from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.json_paths import dig
from collectors.records import InstanceRecord

# Azure power state (the part after "PowerState/", lower-cased) -> provider-neutral status.
STATUS = {
    "running": "running",
    "starting": "pending",
    "stopping": "stopping",
    "deallocating": "stopping",
    "stopped": "stopped",
    "deallocated": "deallocated",
    "unknown": "unknown",
}


def power_state(vm: Mapping[str, Any]) -> str | None:
    """The raw power state, lower-cased (`running`, `deallocated`, ...), when the list carried it."""
    for status in dig(vm, "properties", "instanceView", "statuses") or ():
        code = str(dig(status, "code") or "").lower()
        if code.startswith("powerstate/"):
            return code.split("/", 1)[1]
    return None


def _nics(vm: Mapping[str, Any], nics: Mapping[str, NicInfo]) -> list[NicInfo]:
    """The VM's NICs, primary first."""
    found: list[tuple[bool, NicInfo]] = []
    for ref in dig(vm, "properties", "networkProfile", "networkInterfaces") or ():
        ref_id = dig(ref, "id")
        info = nics.get(key(ref_id)) if ref_id else None
        if info is None:
            continue
        primary = bool(dig(ref, "properties", "primary")) or info.primary
        found.append((not primary, info))
    return [info for _, info in sorted(found, key=lambda item: item[0])]


def instance_record(vm: Mapping[str, Any], subscription_id: str, nics: Mapping[str, NicInfo],
                    addresses: Mapping[str, str]) -> InstanceRecord:
    """One virtual machine (ARM JSON as the list answers it, or the SDK's model of it) -> InstanceRecord."""
    vm_id = str(vm.get("id") or "")
    parsed = parse(vm_id)
    tags = tags_of(vm.get("tags"))
    cluster = cluster_of(tags, parsed.resource_group if parsed else None)
    state = power_state(vm)
    vm_nics = _nics(vm, nics)
    private_ip = next((n.private_ip for n in vm_nics if n.private_ip), None)
    public_ip = next((addresses[k] for n in vm_nics for k in n.public_ip_keys if k in addresses), None)
    name = vm.get("name")
    return InstanceRecord(
        uid=key(vm_id),
        provider=PROVIDER,
        account_id=subscription_id,
        region=lower(vm.get("location")),
        zone=first(vm.get("zones")),
        name=name,
        state=state,
        tags=tags,
        created=arm_time(dig(vm, "properties", "timeCreated")),
        cluster=cluster,
        instance_type=text(dig(vm, "properties", "hardwareProfile", "vmSize")),
        status=STATUS.get(state, "unknown") if state else "unknown",
        role=role_of(tags, name, cluster),
        private_ip=private_ip,
        public_ip=public_ip,
        network=next((n.network for n in vm_nics if n.network), None),
        provider_id=vm_provider_id(vm_id),
        cluster_name_key=f"{cluster}/{name}" if cluster and name else None,
    )


def collect_instances(compute: ComputeManagementClient, network: NetworkManagementClient,
                      subscription_id: str, max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[InstanceRecord]:
    nics = nic_index(network, max_pages)
    addresses = public_ip_addresses(network, max_pages)
    # statusOnly=true: each VM comes with its instance view (its power state) in the list.
    vms = arm_items(compute, subscription_path(compute, "Microsoft.Compute/virtualMachines"), VIRTUAL_MACHINES_API,
                    f"virtual machines of subscription {subscription_id}", max_pages, {"statusOnly": "true"})
    for vm in vms:
        if vm.get("id"):
            yield instance_record(vm, subscription_id, nics, addresses)
