"""The GCP `VmReader`: one instance by name (instances.get in the zone its providerID names), the disks it
has attached (disks.get / regionDisks.get each) and its external addresses, mapped by the GCP
collector's own functions and written into the collector's account-wide scopes.

An instance's NAT address is an ephemeral IP (part of the instance read) unless it is a reserved
Address, which only the project's address list can tell; the re-read therefore lists the project's
addresses once (as the collector does before reading instances) and keeps those the VM uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.api_core import exceptions as google_exceptions
from google.api_core import gapic_v1
from google.api_core.client_options import ClientOptions
from google.cloud import compute_v1

from collectors.contract import ACCOUNT_WIDE, DISKS, INSTANCES_WITH_OWN_IPS, IPS, typed
from collectors.gcp.addresses import address_record, is_external, iter_addresses
from collectors.gcp.clients import REFUSALS, build_clients, refused
from collectors.gcp.collector import SOURCE, GcpCollector
from collectors.gcp.disks import disk_record
from collectors.gcp.instances import ephemeral_ips, instance_record
from collectors.gcp.settings import GcpSettings
from collectors.gcp.urls import resource_path
from collectors.records import Record
from collectors.scope import Scope
from graphinv.watch.refresh import VmTarget


def place_of(provider_id: str) -> tuple[str, str, str] | None:
    """`gce:///<project>/<zone>/<name>` (or `gce://...`) -> (project, zone, name)."""
    parts = provider_id.split("://", 1)[-1].strip("/").split("/")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 and all(parts) else None


class GcpVmReader:
    provider = SOURCE

    def __init__(self, settings: GcpSettings | Mapping[str, Any]) -> None:
        self.collector = GcpCollector(typed(GcpSettings, settings))

    def account_of(self, target: VmTarget, known_account: str | None) -> str:
        place = place_of(target.provider_id)
        return place[0] if place else (known_account or "unknown")

    def read(self, target: VmTarget, known_account: str | None) -> list[tuple[Scope, list[Record]]] | None:
        """The VM's records by scope, or None for a VM this source does not read or that is gone. Refused
        credentials fail with an error naming them, as the scheduled read's do (collectors/gcp/clients.py)."""
        try:
            return self._read(target)
        except REFUSALS as exc:
            raise refused(self.collector.settings.credentials, exc) from None

    def _read(self, target: VmTarget) -> list[tuple[Scope, list[Record]]] | None:
        place = place_of(target.provider_id)
        if place is None or place[0] not in self.collector.settings.projects:
            return None  # a project graphinv does not read: the schedule (of whoever reads it) decides
        project, zone, name = place
        clients = build_clients(self.collector.credentials, self.collector.settings.api_endpoint)
        retry, timeout = self.collector.retry, self.collector.timeout or gapic_v1.method.DEFAULT
        try:
            inst = clients.instances.get(project=project, zone=zone, instance=name, retry=retry, timeout=timeout)
        except google_exceptions.NotFound:
            return None
        addresses = [a for a in iter_addresses(clients.addresses, clients.global_addresses, project, retry,
                                               None, self.collector.timeout, self.collector.settings.max_pages)
                     if is_external(a)]
        reserved = frozenset(a["address"] for a in addresses if a.get("address"))
        instance = instance_record(project, inst)
        own: list[Record] = [instance, *ephemeral_ips(project, inst, instance, reserved)]
        disks: list[Record] = []
        endpoint = self.collector.settings.api_endpoint
        region_disks = compute_v1.RegionDisksClient(
            transport="rest", credentials=self.collector.credentials,
            client_options=ClientOptions(api_endpoint=endpoint) if endpoint else None)
        for attached in inst.disks:
            source = resource_path(attached.source) if attached.source else ""
            parts = source.split("/")  # projects/<p>/zones|regions/<where>/disks/<name>
            if len(parts) != 6:
                continue
            try:
                if parts[2] == "zones":
                    disk = clients.disks.get(project=parts[1], zone=parts[3], disk=parts[5], retry=retry,
                                             timeout=timeout)
                else:
                    disk = region_disks.get(project=parts[1], region=parts[3], disk=parts[5], retry=retry,
                                            timeout=timeout)
            except google_exceptions.NotFound:
                continue  # deleted meanwhile: the scheduled read settles it
            disks.append(disk_record(project, disk))
        link = resource_path(inst.self_link) if inst.self_link else instance.uid
        nat = {ac.nat_i_p for nic in inst.network_interfaces for ac in nic.access_configs if ac.nat_i_p}
        ips: list[Record] = [address_record(project, a) for a in addresses
                             if any(resource_path(u) == link for u in a.get("users") or ()) or a.get("address") in nat]
        wide = ACCOUNT_WIDE
        kind = INSTANCES_WITH_OWN_IPS
        return [(Scope(SOURCE, project, wide, kind.label, kind.also), own),
                (Scope(SOURCE, project, wide, DISKS.label), disks),
                (Scope(SOURCE, project, wide, IPS.label), ips)]
