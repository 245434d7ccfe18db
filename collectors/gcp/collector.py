"""The GCP collector under the shared contract: one aggregated read per project and kind.

An aggregated list covers every zone and region of a project in one paged read, so each scope is
account-wide: `Scope("gcp", <project>, "global", <kind>)`. A project that answers 403 fails only its
own three scopes; the fetch raises (google.api_core exceptions) and never returns a partial list.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from google.api_core.client_options import ClientOptions
from google.cloud import compute_v1

from collectors.catalogue import MACHINE_TYPES, RegionCatalogue
from collectors.contract import ACCOUNT_WIDE, INSTANCES_WITH_OWN_IPS, Account, CloudCollector, Kind, typed
from collectors.contract import plan as plan_scopes
from collectors.gcp.addresses import collect_addresses, reserved_external_ips
from collectors.gcp.catalogue import collect_machine_types
from collectors.gcp.clients import load_credentials, naming_refused_credentials
from collectors.gcp.disks import collect_disks
from collectors.gcp.instances import collect_instances
from collectors.gcp.retry import RetryAfter
from collectors.gcp.settings import GcpSettings
from collectors.records import Record
from collectors.scope import ScopeTask

SOURCE = "gcp"
C = TypeVar("C")
Read = Callable[["GcpCollector", Account, str], Iterator[Record]]


def _names_refused_credentials(read: Read) -> Read:
    """A read whose refused credentials fail it with an error naming them (clients.py)."""
    @functools.wraps(read)
    def named(self: GcpCollector, account: Account, region: str) -> Iterator[Record]:
        return naming_refused_credentials(self.settings.credentials, read(self, account, region))
    return named


class GcpCollector(CloudCollector):
    source: ClassVar[str] = SOURCE
    instances_kind: ClassVar[Kind] = INSTANCES_WITH_OWN_IPS

    def __init__(self, settings: GcpSettings) -> None:
        self.settings = settings
        self.credentials = load_credentials(settings.credentials)
        self.retry = RetryAfter()
        # The google API timeout is one number per request (connect and read together).
        self.timeout = settings.read_seconds
        self.catalogue = RegionCatalogue()

    def accounts(self) -> list[Account]:
        return [Account(project, name=project, region_nodes=(ACCOUNT_WIDE,)) for project in self.settings.projects]

    def regions(self, account: Account) -> Sequence[str]:
        return [ACCOUNT_WIDE]

    def _options(self) -> ClientOptions | None:
        return ClientOptions(api_endpoint=self.settings.api_endpoint) if self.settings.api_endpoint else None

    def _client(self, kind: type[C]) -> C:
        # A fresh client per fetch: each has its own HTTP session, so threads share none. Only the
        # clients a read uses are built (an InstancesClient alone prepares some 90 wrapped methods).
        return kind(transport="rest", credentials=self.credentials, client_options=self._options())  # type: ignore[call-arg]

    def _address_clients(self) -> tuple[compute_v1.AddressesClient, compute_v1.GlobalAddressesClient]:
        return self._client(compute_v1.AddressesClient), self._client(compute_v1.GlobalAddressesClient)

    @_names_refused_credentials
    def instances(self, account: Account, region: str) -> Iterator[Record]:
        s = self.settings
        reserved = reserved_external_ips(*self._address_clients(), account.id, self.retry, self.timeout, s.max_pages)
        yield from collect_instances(self._client(compute_v1.InstancesClient), account.id, reserved, self.retry,
                                     s.page_size, self.timeout, s.max_pages)

    @_names_refused_credentials
    def disks(self, account: Account, region: str) -> Iterator[Record]:
        s = self.settings
        yield from collect_disks(self._client(compute_v1.DisksClient), account.id, self.retry, s.page_size,
                                 self.timeout, s.max_pages)

    def kinds(self, account: Account) -> Sequence[Kind]:
        return (*super().kinds(account), MACHINE_TYPES)

    @_names_refused_credentials
    def machine_types(self, account: Account, region: str) -> Iterator[Record]:
        # One aggregated list covers every zone of the project; its catalogue is read once per collection.
        s = self.settings
        client = self._client(compute_v1.MachineTypesClient)
        yield from self.catalogue.get(account.id, lambda: collect_machine_types(
            client, account.id, self.retry, s.page_size, self.timeout, s.max_pages))

    @_names_refused_credentials
    def ips(self, account: Account, region: str) -> Iterator[Record]:
        s = self.settings
        yield from collect_addresses(*self._address_clients(), account.id, self.retry, s.page_size, self.timeout,
                                     s.max_pages)


def plan(settings: GcpSettings | Mapping[str, Any]) -> list[ScopeTask]:
    return plan_scopes(GcpCollector(typed(GcpSettings, settings)))
