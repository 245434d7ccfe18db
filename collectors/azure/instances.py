"""Azure virtual machines -> InstanceRecord.

VMs are listed subscription-wide with `statusOnly=true`, which makes ARM include each VM's
instance view (and so its power state) in the list instead of one request per VM. Addresses come
from the NICs the VM names and the public IPs those NICs name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute.models import VirtualMachine
from azure.mgmt.network import NetworkManagementClient

from collectors.azure.common import PROVIDER, first, lower, paged, tags_of, text
from collectors.azure.gardener import cluster_of, role_of
from collectors.azure.ids import key, parse, vm_provider_id
from collectors.azure.network import NicInfo, nic_index, public_ip_addresses
from collectors.base_settings import DEFAULT_MAX_PAGES
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


def power_state(vm: VirtualMachine) -> str | None:
    """The raw power state, lower-cased (`running`, `deallocated`, ...), when the list carried it."""
    view = vm.properties.instance_view if vm.properties is not None else None
    for status in (view.statuses or []) if view is not None else []:
        code = (status.code or "").lower()
        if code.startswith("powerstate/"):
            return code.split("/", 1)[1]
    return None


def _nics(vm: VirtualMachine, nics: Mapping[str, NicInfo]) -> list[NicInfo]:
    """The VM's NICs, primary first."""
    refs = vm.properties.network_profile.network_interfaces if (
        vm.properties is not None and vm.properties.network_profile is not None) else None
    found: list[tuple[bool, NicInfo]] = []
    for ref in refs or []:
        info = nics.get(key(ref.id)) if ref.id else None
        if info is None:
            continue
        primary = bool(ref.properties and ref.properties.primary) or info.primary
        found.append((not primary, info))
    return [info for _, info in sorted(found, key=lambda item: item[0])]


def instance_record(vm: VirtualMachine, subscription_id: str, nics: Mapping[str, NicInfo],
                    addresses: Mapping[str, str]) -> InstanceRecord:
    vm_id = vm.id or ""
    parsed = parse(vm_id)
    tags = tags_of(vm.tags)
    cluster = cluster_of(tags, parsed.resource_group if parsed else None)
    location = lower(vm.location)
    state = power_state(vm)
    vm_nics = _nics(vm, nics)
    private_ip = next((n.private_ip for n in vm_nics if n.private_ip), None)
    public_ip = next((addresses[k] for n in vm_nics for k in n.public_ip_keys if k in addresses), None)
    props = vm.properties
    return InstanceRecord(
        uid=key(vm_id),
        provider=PROVIDER,
        account_id=subscription_id,
        region=location,
        zone=first(vm.zones),
        name=vm.name,
        state=state,
        tags=tags,
        created=props.time_created if props is not None else None,
        cluster=cluster,
        instance_type=text(props.hardware_profile.vm_size) if props and props.hardware_profile else None,
        status=STATUS.get(state, "unknown") if state else "unknown",
        role=role_of(tags, vm.name, cluster),
        private_ip=private_ip,
        public_ip=public_ip,
        network=next((n.network for n in vm_nics if n.network), None),
        provider_id=vm_provider_id(vm_id),
        cluster_name_key=f"{cluster}/{vm.name}" if cluster and vm.name else None,
    )


def collect_instances(compute: ComputeManagementClient, network: NetworkManagementClient,
                      subscription_id: str, max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[InstanceRecord]:
    nics = nic_index(network, max_pages)
    addresses = public_ip_addresses(network, max_pages)
    vms = compute.virtual_machines.list_all(status_only="true")
    for vm in paged(vms, f"virtual machines of subscription {subscription_id}", max_pages):
        if vm.id:
            yield instance_record(vm, subscription_id, nics, addresses)
