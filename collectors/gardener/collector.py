"""The Gardener collector under the shared contract: the accounts are the garden (Projects, Seeds,
Shoots, Bastions) and every seed (its Machines); each is read as a whole (`global`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from collectors.contract import ACCOUNT_WIDE, Account, Kind, PagingError, typed
from collectors.contract import plan as plan_scopes
from collectors.gardener.collect import (
    CORE,
    GardenerReadError,
    ListOptions,
    ShootNamespaces,
    collect_bastions,
    collect_machines,
    collect_projects,
    collect_seeds,
    collect_shoots,
    list_objects,
)
from collectors.gardener.kube import garden_client
from collectors.gardener.profiles import profile_records
from collectors.gardener.seed_access import SeedAccess
from collectors.gardener.settings import GardenerSettings
from collectors.records import Record
from collectors.scope import ScopeTask

log = logging.getLogger(__name__)

SOURCE = "gardener"
GARDEN = "garden"
GARDEN_KINDS = (Kind("projects", "Project"), Kind("seeds", "Seed"), Kind("shoots", "Shoot"),
                Kind("bastions", "Bastion"), Kind("cloudprofiles", "CloudProfile", ("MachineType",)))
SEED_KINDS = (Kind("machines", "Machine"),)


class GardenerCollector:
    source: ClassVar[str] = SOURCE

    def __init__(self, settings: GardenerSettings) -> None:
        self.settings = settings
        self.garden = garden_client(settings)
        self.api = client.CustomObjectsApi(self.garden)
        self.lists = ListOptions(settings.page_size, settings.request_timeout, settings.max_pages)
        self.access = SeedAccess(self.garden, settings)
        self.shoot_namespaces = ShootNamespaces(self.api, self.lists)

    def accounts(self) -> Iterator[Account]:
        yield Account(GARDEN)
        # The Machine scopes depend on which seeds exist. If the garden cannot say, plan none:
        # nothing is swept for a scope that was not read, and the Seed scope reports the failure.
        try:
            seeds = {obj["metadata"]["name"] for obj in list_objects(self.api, CORE, "seeds", None, self.lists)}
        except (GardenerReadError, PagingError, ApiException, HTTPError, OSError, KeyError, TypeError) as exc:
            log.warning("gardener: cannot list seeds (%s); no Machine scopes this run", type(exc).__name__)
            return
        seeds |= set(self.settings.seed_kubeconfigs)
        for seed in sorted(seeds):
            if seed in self.settings.excluded_seeds:
                log.warning("gardener: seed %s is in excluded_seeds; its machines are not read", seed)
                continue
            yield Account(seed)

    def regions(self, account: Account) -> Sequence[str]:
        return [ACCOUNT_WIDE]

    def kinds(self, account: Account) -> Sequence[Kind]:
        return GARDEN_KINDS if account.id == GARDEN else SEED_KINDS

    def context(self, account: Account, region: str | None) -> list[Record]:
        return []

    def projects(self, account: Account, region: str) -> Iterator[Record]:
        return collect_projects(self.api, self.lists)

    def seeds(self, account: Account, region: str) -> Iterator[Record]:
        return collect_seeds(self.api, self.lists)

    def shoots(self, account: Account, region: str) -> Iterator[Record]:
        return collect_shoots(self.api, self.lists)

    def bastions(self, account: Account, region: str) -> Iterator[Record]:
        return collect_bastions(self.api, self.lists)

    def cloudprofiles(self, account: Account, region: str) -> Iterator[Record]:
        for obj in list_objects(self.api, CORE, "cloudprofiles", None, self.lists):
            yield from profile_records(obj)

    def machines(self, account: Account, region: str) -> Iterator[Record]:
        seed = account.id

        def namespaces() -> list[str]:
            return self.shoot_namespaces.on_seed(seed)

        return collect_machines(self.access, seed, namespaces, self.lists)


def plan(settings: GardenerSettings | Mapping[str, Any]) -> list[ScopeTask]:
    return plan_scopes(GardenerCollector(typed(GardenerSettings, settings)))
