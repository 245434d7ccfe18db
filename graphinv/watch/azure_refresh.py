"""The Azure `VmReader`: one virtual machine by its ARM id (virtualMachines.get with the instance view),
its NICs and their public IPs (networkInterfaces.get, publicIPAddresses.get) and its managed disks
(disks.get), mapped by the Azure collector's own functions and written into the collector's
subscription-wide scopes. The providerID is the VM's ARM id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from collectors.azure.auth import compute_client, network_client
from collectors.azure.collector import AzureCollector
from collectors.azure.common import PROVIDER
from collectors.azure.disks import disk_record
from collectors.azure.ids import key, parse
from collectors.azure.instances import instance_record
from collectors.azure.ips import ip_record
from collectors.azure.network import NicInfo, nic_info
from collectors.azure.settings import AzureSettings
from collectors.contract import ACCOUNT_WIDE, DISKS, INSTANCES, IPS, typed
from collectors.records import CloudResource, Record
from collectors.scope import Scope
from graphinv.watch.refresh import VmTarget


def vm_id_of(provider_id: str) -> str:
    """`azure:///subscriptions/...` -> `/subscriptions/...` (the VM's ARM id)."""
    return "/" + provider_id.split("://", 1)[-1].lstrip("/")


class AzureVmReader:
    provider = PROVIDER

    def __init__(self, settings: AzureSettings | Mapping[str, Any]) -> None:
        self.collector = AzureCollector(typed(AzureSettings, settings))

    def account_of(self, target: VmTarget, known_account: str | None) -> str:
        parsed = parse(vm_id_of(target.provider_id))
        return parsed.subscription if parsed else (known_account or "unknown")

    def read(self, target: VmTarget, known_account: str | None) -> list[tuple[Scope, list[Record]]] | None:
        parsed = parse(vm_id_of(target.provider_id))
        subscriptions = {s.lower(): s for s in self.collector.settings.subscriptions}
        if parsed is None or parsed.subscription.lower() not in subscriptions:
            return None  # a subscription graphinv does not read
        subscription = subscriptions[parsed.subscription.lower()]
        settings, credential = self.collector.settings, self.collector.credential
        with compute_client(credential, subscription, settings) as compute, \
                network_client(credential, subscription, settings) as network:
            try:
                vm = compute.virtual_machines.get(parsed.resource_group, parsed.name, expand="instanceView")
            except ResourceNotFoundError:
                return None
            nics: dict[str, NicInfo] = {}
            profile = vm.properties.network_profile if vm.properties is not None else None
            for ref in (profile.network_interfaces or []) if profile is not None else []:
                nic_id = parse(ref.id)
                if nic_id is None:
                    continue
                try:
                    nic = network.network_interfaces.get(nic_id.resource_group, nic_id.name)
                    nics[key(nic_id.top_level)] = nic_info(nic)
                except ResourceNotFoundError:
                    continue
            public: list[Any] = []
            for ip_key in [k for info in nics.values() for k in info.public_ip_keys]:
                ip_id = parse(ip_key)
                if ip_id is None:
                    continue
                try:
                    public.append(network.public_ip_addresses.get(ip_id.resource_group, ip_id.name))
                except ResourceNotFoundError:
                    continue
            addresses = {key(ip.id): ip.properties.ip_address for ip in public
                         if ip.id and ip.properties is not None and ip.properties.ip_address}
            instance = instance_record(vm, subscription, nics, addresses)
            storage = vm.properties.storage_profile if vm.properties is not None else None
            disk_ids = ([storage.os_disk] if storage is not None and storage.os_disk is not None else []) + \
                list(storage.data_disks or [] if storage is not None else [])
            disks: list[Record] = []
            for attached in disk_ids:
                managed = attached.managed_disk.id if attached.managed_disk is not None else None
                disk_id = parse(managed)
                if disk_id is None:
                    continue
                try:
                    disks.append(disk_record(compute.disks.get(disk_id.resource_group, disk_id.name), subscription))
                except ResourceNotFoundError:
                    continue  # deleted meanwhile: the scheduled read settles it
            ips: list[Record] = [ip_record(ip, subscription, nics) for ip in public if ip.id]
        wide = ACCOUNT_WIDE
        return [(Scope(PROVIDER, subscription, wide, INSTANCES.label), self._kept([instance])),
                (Scope(PROVIDER, subscription, wide, DISKS.label), self._kept(disks)),
                (Scope(PROVIDER, subscription, wide, IPS.label), self._kept(ips))]

    def _kept(self, records: list[Record]) -> list[Record]:
        """Only the configured regions, as the collector keeps them."""
        return [r for r in records if isinstance(r, CloudResource) and
                (self.collector.only is None or (r.region or "") in self.collector.only)]
