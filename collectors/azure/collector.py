"""The Azure collector under the shared contract: one account-wide scope per subscription and
kind, because the ARM lists read whole subscriptions. Each scope has its own fetch, so a
subscription that answers 403 fails only its own three scopes, and nothing is swept for it.
With `regions`, only resources in those locations are kept and their Region nodes are written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from collectors.azure.auth import build_credential, compute_client, network_client
from collectors.azure.catalogue import collect_skus
from collectors.azure.common import PROVIDER
from collectors.azure.disks import collect_disks
from collectors.azure.instances import collect_instances
from collectors.azure.ips import collect_ips
from collectors.azure.settings import AzureSettings
from collectors.catalogue import MACHINE_TYPES, RegionCatalogue
from collectors.contract import ACCOUNT_WIDE, Account, CloudCollector, Kind, typed
from collectors.contract import plan as plan_scopes
from collectors.records import CloudResource, Record
from collectors.scope import ScopeTask


class AzureCollector(CloudCollector):
    source: ClassVar[str] = PROVIDER

    def __init__(self, settings: AzureSettings) -> None:
        self.settings = settings
        self.credential = build_credential(settings)
        self.only = frozenset(settings.regions) if settings.regions else None
        self.catalogue = RegionCatalogue()

    def accounts(self) -> list[Account]:
        return [Account(s, region_nodes=tuple(sorted(self.only or ()))) for s in self.settings.subscriptions]

    def regions(self, account: Account) -> Sequence[str]:
        return [ACCOUNT_WIDE]

    def _kept(self, records: Iterable[CloudResource]) -> Iterator[Record]:
        for record in records:
            if self.only is None or (record.region or "") in self.only:
                yield record

    # Clients are made inside each fetch: a fetch runs on a worker thread, and an SDK client (one
    # requests session) is not shared between threads.
    def instances(self, account: Account, region: str) -> Iterator[Record]:
        compute = compute_client(self.credential, account.id, self.settings)
        network = network_client(self.credential, account.id, self.settings)
        with compute, network:
            yield from self._kept(collect_instances(compute, network, account.id, self.settings.max_pages))

    def disks(self, account: Account, region: str) -> Iterator[Record]:
        with compute_client(self.credential, account.id, self.settings) as compute:
            yield from self._kept(collect_disks(compute, account.id, self.settings.max_pages))

    def kinds(self, account: Account) -> Sequence[Kind]:
        return (*super().kinds(account), MACHINE_TYPES)

    def machine_types(self, account: Account, region: str) -> Iterator[Record]:
        def read() -> Iterator[Record]:
            with compute_client(self.credential, account.id, self.settings) as compute:
                yield from collect_skus(compute, account.id, self.only, self.settings.max_pages)

        yield from self.catalogue.get(account.id, read)

    def ips(self, account: Account, region: str) -> Iterator[Record]:
        with network_client(self.credential, account.id, self.settings) as network:
            yield from self._kept(collect_ips(network, account.id, self.settings.max_pages))


def plan(settings: AzureSettings | Mapping[str, Any]) -> list[ScopeTask]:
    return plan_scopes(AzureCollector(typed(AzureSettings, settings)))
