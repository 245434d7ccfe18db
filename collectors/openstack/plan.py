"""`plan(section)`: one ScopeTask per (project, region, kind) of the `sources.openstack` section."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from collectors.openstack.common import PROVIDER, account_ref, region_ref
from collectors.openstack.connection import ClientOptions, CloudEntry, OpenStackConfigError, catalog_regions, connect
from collectors.openstack.disks import collect_disks
from collectors.openstack.instances import collect_instances
from collectors.openstack.ips import collect_ips
from collectors.records import CloudAccountRecord, Record, RegionRecord
from collectors.scope import Scope, ScopeTask

Collect = Callable[[Any, str, str], Iterator[Record]]
KINDS: dict[str, Collect] = {"Instance": collect_instances, "Disk": collect_disks, "IP": collect_ips}
UNKNOWN_REGION = "unknown"


class RegionDiscoveryError(RuntimeError):
    """The regions of a project could not be read; its scopes fail and nothing of it is swept."""


def _fetch(entry: CloudEntry, region: str, options: ClientOptions, collect: Collect) -> Callable[[], Iterator[Record]]:
    def fetch() -> Iterator[Record]:
        # A connection per scope: the runner calls fetches on several threads at once.
        conn = connect(entry, region, options)
        try:
            yield from collect(conn, entry.project, region)
        finally:
            conn.close()

    return fetch


def _failing(error: Exception) -> Callable[[], Iterator[Record]]:
    def fetch() -> Iterator[Record]:
        raise error
        yield  # a generator, like every other fetch

    return fetch


def _regions(entry: CloudEntry, options: ClientOptions) -> list[str]:
    if entry.regions:
        return list(entry.regions)
    conn = connect(entry, None, options)
    try:
        return catalog_regions(conn)
    finally:
        conn.close()


def plan(section: Mapping[str, Any]) -> list[ScopeTask]:
    clouds = section.get("clouds") or []
    if not isinstance(clouds, list):
        raise OpenStackConfigError("sources.openstack.clouds must be a list")
    options = ClientOptions.from_section(section)
    tasks: list[ScopeTask] = []
    for index, raw in enumerate(clouds):
        entry = CloudEntry.from_mapping(raw, index)
        account = CloudAccountRecord(uid=account_ref(entry.project), provider=PROVIDER, account_id=entry.project,
                                     name=entry.project)
        try:
            regions = _regions(entry, options)
        except Exception as exc:  # fail this project's scopes only; others still run
            error = RegionDiscoveryError(f"OpenStack project {entry.project} ({entry.name}): cannot read its "
                                         f"regions: {type(exc).__name__}: {exc}")
            tasks += [ScopeTask(Scope(PROVIDER, entry.project, UNKNOWN_REGION, kind), _failing(error), [account])
                      for kind in KINDS]
            continue
        for region in regions:
            context: list[Record] = [account, RegionRecord(uid=region_ref(region), provider=PROVIDER, name=region)]
            for kind, collect in KINDS.items():
                tasks.append(ScopeTask(Scope(PROVIDER, entry.project, region, kind),
                                       _fetch(entry, region, options, collect), list(context)))
    return tasks
