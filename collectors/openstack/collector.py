"""The OpenStack collector under the shared contract: one account per `clouds[]` entry (its
project), its configured regions or those of the token's service catalog, the three kinds each."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from collectors.catalogue import MACHINE_TYPES, RegionCatalogue
from collectors.contract import Account, CloudCollector, Kind, typed
from collectors.contract import plan as plan_scopes
from collectors.openstack.catalogue import collect_flavors
from collectors.openstack.common import PROVIDER
from collectors.openstack.connection import catalog_regions, connect, project_of
from collectors.openstack.disks import collect_disks
from collectors.openstack.instances import collect_instances
from collectors.openstack.ips import collect_ips
from collectors.openstack.settings import OpenStackCloud, OpenStackSettings
from collectors.records import Record
from collectors.scope import ScopeTask

Collect = Callable[[Any, str, str, int], Iterator[Record]]


class OpenStackCollector(CloudCollector):
    source: ClassVar[str] = PROVIDER

    def __init__(self, settings: OpenStackSettings) -> None:
        self.settings = settings
        self.catalogue = RegionCatalogue()

    def accounts(self) -> list[Account]:
        accounts = []
        for index, entry in enumerate(self.settings.clouds):
            project = project_of(entry, f"sources.openstack.clouds[{index}]")
            accounts.append(Account(project, name=project, handle=entry))
        return accounts

    def regions(self, account: Account) -> Sequence[str]:
        entry: OpenStackCloud = account.handle
        if entry.regions:
            return list(entry.regions)
        conn = connect(entry, None, self.settings)
        try:
            return catalog_regions(conn)
        finally:
            conn.close()

    def _read(self, collect: Collect, account: Account, region: str) -> Iterator[Record]:
        # A connection per scope: the runner calls fetches on several threads at once.
        conn = connect(account.handle, region, self.settings)
        try:
            yield from collect(conn, account.id, region, self.settings.max_pages)
        finally:
            conn.close()

    def instances(self, account: Account, region: str) -> Iterator[Record]:
        return self._read(collect_instances, account, region)

    def disks(self, account: Account, region: str) -> Iterator[Record]:
        return self._read(collect_disks, account, region)

    def ips(self, account: Account, region: str) -> Iterator[Record]:
        return self._read(collect_ips, account, region)

    def kinds(self, account: Account) -> Sequence[Kind]:
        return (*super().kinds(account), MACHINE_TYPES)

    def machine_types(self, account: Account, region: str) -> Iterator[Record]:
        # Flavors may be project-private: the catalogue is read per project and region, once a collection.
        yield from self.catalogue.get(f"{account.id}/{region}",
                                      lambda: list(self._read(collect_flavors, account, region)))


def plan(settings: OpenStackSettings | Mapping[str, Any]) -> list[ScopeTask]:
    return plan_scopes(OpenStackCollector(typed(OpenStackSettings, settings)))
