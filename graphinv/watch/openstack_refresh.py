"""The OpenStack `VmReader`: one server by id (Nova GET /servers/{id}), the volumes it lists as attached
(Cinder GET /volumes/{id} each) and the floating IPs on its ports (Neutron, filtered by device and
port), mapped by the OpenStack collector's own functions and written into the collector's scopes.

The providerID names the server uuid, and machine-controller-manager's form also its region
(`openstack:///<region>/<uuid>`); without a region every configured region of every project is asked.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from openstack import exceptions as os_exceptions

from collectors.contract import Account, typed
from collectors.openstack.api import resource_json
from collectors.openstack.collector import OpenStackCollector
from collectors.openstack.common import PROVIDER, listed
from collectors.openstack.connection import connect
from collectors.openstack.disks import disk_record
from collectors.openstack.instances import instance_record
from collectors.openstack.ips import ip_record, port_devices
from collectors.openstack.settings import OpenStackSettings
from collectors.records import Record
from collectors.scope import Scope
from graphinv.watch.refresh import VmTarget


def region_of(provider_id: str) -> str | None:
    """`openstack:///RegionOne/<uuid>` -> RegionOne; graphinv's own `openstack:///<uuid>` has none."""
    parts = provider_id.split("://", 1)[-1].strip("/").split("/")
    return parts[0] if len(parts) >= 2 and parts[0] else None


class OpenStackVmReader:
    provider = PROVIDER

    def __init__(self, settings: OpenStackSettings | Mapping[str, Any]) -> None:
        self.collector = OpenStackCollector(typed(OpenStackSettings, settings))
        self._accounts: list[Account] | None = None
        self._regions: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def accounts(self) -> list[Account]:
        with self._lock:
            if self._accounts is None:
                self._accounts = list(self.collector.accounts())
            return self._accounts

    def regions(self, account: Account) -> list[str]:
        with self._lock:
            if account.id not in self._regions:
                self._regions[account.id] = list(self.collector.regions(account))
            return self._regions[account.id]

    def account_of(self, target: VmTarget, known_account: str | None) -> str:
        return known_account or (self.accounts()[0].id if len(self.accounts()) == 1 else "unknown")

    def read(self, target: VmTarget, known_account: str | None) -> list[tuple[Scope, list[Record]]] | None:
        wanted_region = region_of(target.provider_id)
        for account in sorted(self.accounts(), key=lambda a: a.id != known_account):  # the known one first
            regions = [r for r in self.regions(account) if wanted_region in (None, r)]
            for region in regions:
                conn = connect(account.handle, region, self.collector.settings)
                try:
                    try:
                        server = conn.compute.get_server(target.instance_uid)
                    except os_exceptions.NotFoundException:
                        continue
                    return self._records(conn, server, account.id, region)
                finally:
                    conn.close()
        return None

    def _records(self, conn: Any, server: Any, project: str, region: str) -> list[tuple[Scope, list[Record]]]:
        max_pages = self.collector.settings.max_pages
        instance = instance_record(resource_json(server), project, region)
        disks: list[Record] = []
        for attached in server.attached_volumes or ():
            volume_id = attached.get("id") if isinstance(attached, Mapping) else getattr(attached, "id", None)
            if not volume_id:
                continue
            try:
                disks.append(disk_record(resource_json(conn.block_storage.get_volume(volume_id)), project, region))
            except os_exceptions.NotFoundException:
                continue  # deleted meanwhile: the scheduled read settles it
        ports = [p.id for p in listed(conn.network.ports(device_id=server.id), "ports", max_pages)
                 if p.device_id == server.id]
        ips: list[Record] = []
        if ports:
            devices = port_devices(conn, ports, max_pages)
            for fip in listed(conn.network.ips(port_id=ports), "floating IPs", max_pages):
                if fip.port_id in ports:  # a server that ignores the filter answers more
                    ips.append(ip_record(resource_json(fip), fip.port_details or devices.get(fip.port_id), project,
                                         region))
        return [(Scope(PROVIDER, project, region, "Instance"), [instance]),
                (Scope(PROVIDER, project, region, "Disk"), disks),
                (Scope(PROVIDER, project, region, "IP"), ips)]
