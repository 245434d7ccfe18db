"""The root Query: look-ups by key, filtered connections, and the report fields."""

from __future__ import annotations

from typing import Any, TypeVar

import strawberry

from graphinv.api import filters as flt
from graphinv.api.context import Info
from graphinv.api.errors import ApiError
from graphinv.api.history import changes_field
from graphinv.api.nodes import (
    IP,
    Bastion,
    CloudAccount,
    Disk,
    GraphNodeType,
    Instance,
    Machine,
    Project,
    Seed,
    Shoot,
)
from graphinv.api.pagination import Connection, paginate
from graphinv.api.reports import (
    Orphan,
    ResourceKind,
    ScopeFreshness,
    Stats,
    resolve_freshness,
    resolve_orphans,
    resolve_stats,
)
from graphinv.api.selection import requested_props

PAGE = 50
N = TypeVar("N", bound=GraphNodeType)


async def _lookup(info: Info, cls: type[N], label: str, value: str, key: str = "uid") -> N | None:
    wanted = requested_props(info.selected_fields, cls)
    props: dict[str, Any] | None = await info.context.loaders.lookup(label, key).load((value, wanted))
    return cls.from_props(props) if props is not None else None


@strawberry.type
class Query:
    # -- look-ups by key ------------------------------------------------------------------------
    @strawberry.field
    async def project(self, info: Info, name: str) -> Project | None:
        return await _lookup(info, Project, "Project", name)

    @strawberry.field
    async def seed(self, info: Info, name: str) -> Seed | None:
        return await _lookup(info, Seed, "Seed", name)

    @strawberry.field(description="By uid (`<namespace>/<name>`) or by technical id (`shoot--<project>--<name>`).")
    async def shoot(self, info: Info, uid: str | None = None, technical_id: str | None = None) -> Shoot | None:
        if (uid is None) == (technical_id is None):
            raise ApiError("give exactly one of uid and technicalId")
        if uid is not None:
            return await _lookup(info, Shoot, "Shoot", uid)
        return await _lookup(info, Shoot, "Shoot", technical_id or "", key="technical_id")

    @strawberry.field
    async def machine(self, info: Info, uid: str) -> Machine | None:
        return await _lookup(info, Machine, "Machine", uid)

    @strawberry.field
    async def bastion(self, info: Info, uid: str) -> Bastion | None:
        return await _lookup(info, Bastion, "Bastion", uid)

    @strawberry.field(description="By uid `<provider>:<account id>`.")
    async def cloud_account(self, info: Info, uid: str) -> CloudAccount | None:
        return await _lookup(info, CloudAccount, "CloudAccount", uid)

    @strawberry.field
    async def instance(self, info: Info, uid: str) -> Instance | None:
        return await _lookup(info, Instance, "Instance", uid)

    @strawberry.field
    async def disk(self, info: Info, uid: str) -> Disk | None:
        return await _lookup(info, Disk, "Disk", uid)

    @strawberry.field
    async def ip(self, info: Info, uid: str) -> IP | None:
        return await _lookup(info, IP, "IP", uid)

    # -- filtered, cursor-paginated lists (ordered by uid) ----------------------------------------
    @strawberry.field
    async def projects(self, info: Info, first: int = PAGE, after: str | None = None,
                       filter: flt.ProjectFilter | None = None) -> Connection[Project]:
        return await paginate(info, "Project", flt.project_where(filter), first, after, Project)

    @strawberry.field
    async def seeds(self, info: Info, first: int = PAGE, after: str | None = None,
                    filter: flt.SeedFilter | None = None) -> Connection[Seed]:
        return await paginate(info, "Seed", flt.seed_where(filter), first, after, Seed)

    @strawberry.field
    async def shoots(self, info: Info, first: int = PAGE, after: str | None = None,
                     filter: flt.ShootFilter | None = None) -> Connection[Shoot]:
        return await paginate(info, "Shoot", flt.shoot_where(filter), first, after, Shoot)

    @strawberry.field
    async def machines(self, info: Info, first: int = PAGE, after: str | None = None,
                       filter: flt.MachineFilter | None = None) -> Connection[Machine]:
        return await paginate(info, "Machine", flt.machine_where(filter), first, after, Machine)

    @strawberry.field
    async def cloud_accounts(self, info: Info, first: int = PAGE, after: str | None = None,
                             filter: flt.AccountFilter | None = None) -> Connection[CloudAccount]:
        return await paginate(info, "CloudAccount", flt.account_where(filter), first, after, CloudAccount)

    @strawberry.field
    async def instances(self, info: Info, first: int = PAGE, after: str | None = None,
                        filter: flt.InstanceFilter | None = None) -> Connection[Instance]:
        return await paginate(info, "Instance", flt.resource_where(filter), first, after, Instance)

    @strawberry.field
    async def disks(self, info: Info, first: int = PAGE, after: str | None = None,
                    filter: flt.ResourceFilter | None = None) -> Connection[Disk]:
        return await paginate(info, "Disk", flt.resource_where(filter), first, after, Disk)

    @strawberry.field
    async def ips(self, info: Info, first: int = PAGE, after: str | None = None,
                  filter: flt.ResourceFilter | None = None) -> Connection[IP]:
        return await paginate(info, "IP", flt.resource_where(filter), first, after, IP)

    # -- reports -----------------------------------------------------------------------------------
    @strawberry.field(description="The same report as `graphinv orphans` (unverified candidates included; "
                                  "filter on `verdict`). olderThan: e.g. 7d, 12h, 1d12h.")
    async def orphans(self, info: Info, provider: str | None = None, kind: ResourceKind | None = None,
                      older_than: str | None = None, account: str | None = None, project: str | None = None,
                      include_informational: bool = False) -> list[Orphan]:
        return await resolve_orphans(info, provider, kind, older_than, account, project, include_informational)

    @strawberry.field(description="Each collection scope's last read and last complete read, oldest first.")
    async def freshness(self, info: Info, source: str | None = None) -> list[ScopeFreshness]:
        return await resolve_freshness(info, source)

    changes = changes_field  # graphinv/api/history.py

    @strawberry.field
    async def stats(self, info: Info) -> Stats:
        return await resolve_stats(info)
