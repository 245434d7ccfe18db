"""Scopes of the Azure collector: one per subscription and kind, all region `global` because the
ARM lists read whole subscriptions. Each scope has its own fetch, so a subscription that answers
403 fails only its own three scopes, and nothing is swept for it.

Config section (`sources.azure`):
    subscriptions: [id, ...]            required
    credential: {type: ..., ...}        see collectors/azure/auth.py
    base_url: https://...               ARM endpoint (sovereign clouds, the simulator)
    credential_scopes: [...]            token scope for a non-public ARM endpoint
    connection_verify: /path/ca.pem     CA bundle for https (the simulator's self-signed certificate)
    regions: [westeurope, ...]          optional: only resources in these locations, and their
                                        Region nodes are written with each scope
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from azure.core.credentials import TokenCredential

from collectors.azure.auth import AzureConfigError, build_credential, compute_client, network_client
from collectors.azure.common import PROVIDER
from collectors.azure.disks import collect_disks
from collectors.azure.instances import collect_instances
from collectors.azure.ips import collect_ips
from collectors.records import CloudAccountRecord, CloudResource, Record, RegionRecord
from collectors.scope import Scope, ScopeTask

GLOBAL = "global"


def _in_regions(records: Iterable[CloudResource], regions: frozenset[str] | None) -> Iterator[Record]:
    for record in records:
        if regions is None or (record.region or "") in regions:
            yield record


def _fetches(credential: TokenCredential, subscription: str, section: Mapping[str, Any],
             regions: frozenset[str] | None) -> dict[str, Callable[[], Iterable[Record]]]:
    # Clients are made inside each fetch: a fetch runs on a worker thread, and an SDK client (one
    # requests session) is not shared between threads.
    def instances() -> Iterable[Record]:
        compute = compute_client(credential, subscription, section)
        network = network_client(credential, subscription, section)
        with compute, network:
            yield from _in_regions(collect_instances(compute, network, subscription), regions)

    def disks() -> Iterable[Record]:
        with compute_client(credential, subscription, section) as compute:
            yield from _in_regions(collect_disks(compute, subscription), regions)

    def ips() -> Iterable[Record]:
        with network_client(credential, subscription, section) as network:
            yield from _in_regions(collect_ips(network, subscription), regions)

    return {"Instance": instances, "Disk": disks, "IP": ips}


def plan(section: Mapping[str, Any]) -> list[ScopeTask]:
    subscriptions = [str(s) for s in section.get("subscriptions") or []]
    if not subscriptions:
        raise AzureConfigError("sources.azure.subscriptions lists no subscription")
    regions = frozenset(str(r).lower() for r in section["regions"]) if section.get("regions") else None
    credential = build_credential(section)
    tasks: list[ScopeTask] = []
    for subscription in subscriptions:
        context: list[Record] = [CloudAccountRecord(uid=f"{PROVIDER}:{subscription}", provider=PROVIDER,
                                                    account_id=subscription)]
        context += [RegionRecord(uid=f"{PROVIDER}:{r}", provider=PROVIDER, name=r) for r in sorted(regions or ())]
        for kind, fetch in _fetches(credential, subscription, section, regions).items():
            tasks.append(ScopeTask(scope=Scope(PROVIDER, subscription, GLOBAL, kind), fetch=fetch,
                                   context=list(context)))
    return tasks
