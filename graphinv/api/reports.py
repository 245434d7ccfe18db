"""Report-shaped root fields: orphans (the CLI's own report), collection freshness, and counts."""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from graphinv.api.context import Info
from graphinv.api.errors import ApiError
from graphinv.orphans import OrphanFilter, freshness, orphan_report, stale_data_refusal
from graphinv.settings.types import CLOUD_PROVIDERS, parse_duration

PROVIDERS = CLOUD_PROVIDERS


@strawberry.enum
class ResourceKind(Enum):
    INSTANCE = "instance"
    DISK = "disk"
    IP = "ip"


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


@strawberry.type(description="A row of `graphinv orphans`: an orphan, an unverified candidate, or informational.")
class Orphan:
    verdict: str
    reason: str | None
    kind: str
    provider: str | None
    uid: str
    name: str | None
    account: str | None
    region: str | None
    zone: str | None
    state: str | None
    shoot: str | None = strawberry.field(description="the technical id of the cluster tag it carries")
    project: str | None
    instance_type: str | None
    size_gb: int | None
    disk_type: str | None
    address: str | None
    created: datetime | None
    first_seen: datetime | None
    age_days: float | None
    est_monthly_cost_usd: float | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Orphan:
        return cls(
            verdict=row["verdict"], reason=row.get("reason"), kind=row["kind"], provider=row.get("provider"),
            uid=row["uid"], name=row.get("name"), account=row.get("account"), region=row.get("region"),
            zone=row.get("zone"), state=row.get("state"), shoot=row.get("shoot"), project=row.get("project"),
            instance_type=row.get("instance_type"), size_gb=row.get("size_gb"), disk_type=row.get("disk_type"),
            address=row.get("address"), created=_when(row.get("created")), first_seen=_when(row.get("first_seen")),
            age_days=row.get("age_days"), est_monthly_cost_usd=row.get("est_monthly_cost_usd"),
        )


async def resolve_orphans(info: Info, provider: str | None, kind: ResourceKind | None, older_than: str | None,
                          account: str | None, project: str | None, include_informational: bool) -> list[Orphan]:
    if provider is not None and provider not in PROVIDERS:
        raise ApiError(f"provider must be one of {', '.join(PROVIDERS)}")
    try:
        age = parse_duration(older_than) if older_than else None
    except ValueError as exc:
        raise ApiError(f"olderThan: {exc}") from None
    ctx = info.context
    filt = OrphanFilter(provider=provider, kind=kind.value if kind else None, account=account, project=project,
                        older_than=age, max_staleness=ctx.orphan_staleness)
    # Like `graphinv orphans`: without a recent complete read an empty list would look like good news.
    refusal = await asyncio.to_thread(stale_data_refusal, ctx.db, filt)
    if refusal:
        raise ApiError(refusal)
    rows = await asyncio.to_thread(orphan_report, ctx.db, filt, ctx.prices, include_informational)
    return [Orphan.from_row(row) for row in rows]


@strawberry.type(description="One scope's collection record: when it was last read completely.")
class ScopeFreshness:
    scope: str
    source: str | None
    kind: str | None
    status: str | None
    last_complete: datetime | None
    last_run: datetime | None
    error: str | None
    written: int | None
    swept: int | None


async def resolve_freshness(info: Info, source: str | None) -> list[ScopeFreshness]:
    rows = await asyncio.to_thread(freshness, info.context.db, source)
    return [ScopeFreshness(
        scope=r["scope"], source=r.get("source"), kind=r.get("kind"), status=r.get("status"),
        last_complete=_when(r.get("last_complete")), last_run=_when(r.get("last_run")), error=r.get("error"),
        written=r.get("written"), swept=r.get("swept"),
    ) for r in rows]


@strawberry.type
class ProviderStats:
    provider: str
    accounts: int
    instances: int
    disks: int
    ips: int


@strawberry.type(description="Node counts of the inventory.")
class Stats:
    projects: int
    seeds: int
    shoots: int
    machines: int
    bastions: int
    accounts: int
    instances: int
    disks: int
    ips: int
    by_provider: list[ProviderStats]


_LABEL_COUNTS = """
RETURN COUNT { (:Project) } AS projects, COUNT { (:Seed) } AS seeds, COUNT { (:Shoot) } AS shoots,
       COUNT { (:Machine) } AS machines, COUNT { (:Bastion) } AS bastions, COUNT { (:CloudAccount) } AS accounts,
       COUNT { (:Instance) } AS instances, COUNT { (:Disk) } AS disks, COUNT { (:IP) } AS ips
"""
_PROVIDER_COUNTS = """
MATCH (n) WHERE n:Instance OR n:Disk OR n:IP OR n:CloudAccount
WITH coalesce(n.provider, 'unknown') AS provider, n
RETURN provider,
       sum(CASE WHEN n:CloudAccount THEN 1 ELSE 0 END) AS accounts,
       sum(CASE WHEN n:Instance THEN 1 ELSE 0 END) AS instances,
       sum(CASE WHEN n:Disk THEN 1 ELSE 0 END) AS disks,
       sum(CASE WHEN n:IP THEN 1 ELSE 0 END) AS ips
ORDER BY provider
"""


async def resolve_stats(info: Info) -> Stats:
    db = info.context.db
    totals, per_provider = await asyncio.gather(db.fetch(_LABEL_COUNTS), db.fetch(_PROVIDER_COUNTS))
    return Stats(**totals[0], by_provider=[ProviderStats(**row) for row in per_provider])
