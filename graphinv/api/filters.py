"""Filter inputs of the root lists, each turned into fixed Cypher conditions on `n` with parameters.

Only the conditions a client sets are added, so Neo4j can use the indexes on those properties.
"""

from __future__ import annotations

import strawberry

from graphinv.api.pagination import Where

_NAME_PREFIX = "n.name STARTS WITH $name_prefix"


@strawberry.input
class ProjectFilter:
    name_prefix: str | None = None


@strawberry.input
class SeedFilter:
    provider: str | None = None
    name_prefix: str | None = None


@strawberry.input
class ShootFilter:
    provider: str | None = None
    project: str | None = strawberry.field(default=None, description="Gardener project name")
    seed: str | None = None
    region: str | None = None
    hibernated: bool | None = None
    name_prefix: str | None = None


@strawberry.input
class MachineFilter:
    project: str | None = None
    shoot: str | None = strawberry.field(default=None, description="the shoot's technical id, shoot--<project>--<name>")
    seed: str | None = None
    phase: str | None = None
    name_prefix: str | None = None


@strawberry.input
class AccountFilter:
    provider: str | None = None


@strawberry.input
class ResourceFilter:
    provider: str | None = strawberry.field(default=None, description="aws, gcp, azure or openstack")
    account: str | None = strawberry.field(default=None, description="the account / project / subscription id")
    region: str | None = None
    state: str | None = strawberry.field(default=None, description="the provider's own state, lower case")
    project: str | None = strawberry.field(
        default=None, description="Gardener project whose shoots' cluster tag the resource carries")
    shoot: str | None = strawberry.field(
        default=None, description="the technical id (shoot--<project>--<name>) of the cluster tag it carries")
    name_prefix: str | None = None


@strawberry.input
class InstanceFilter(ResourceFilter):
    status: str | None = strawberry.field(
        default=None, description="provider-neutral: running, stopped, terminated, pending, ...")
    role: str | None = strawberry.field(default=None, description="node or bastion")


def project_where(f: ProjectFilter | None) -> Where:
    where = Where()
    if f:
        where.add(f.name_prefix, _NAME_PREFIX, "name_prefix")
    return where


def seed_where(f: SeedFilter | None) -> Where:
    where = Where()
    if f:
        where.add(f.provider, "n.provider = $provider", "provider")
        where.add(f.name_prefix, _NAME_PREFIX, "name_prefix")
    return where


def shoot_where(f: ShootFilter | None) -> Where:
    where = Where()
    if f:
        where.add(f.provider, "n.provider = $provider", "provider")
        where.add(f.project, "n.project_ref = $project", "project")
        where.add(f.seed, "n.seed_name = $seed", "seed")
        where.add(f.region, "n.region = $region", "region")
        where.add(f.hibernated, "n.hibernated = $hibernated", "hibernated")
        where.add(f.name_prefix, _NAME_PREFIX, "name_prefix")
    return where


def machine_where(f: MachineFilter | None) -> Where:
    where = Where()
    if f:
        # A machine lives in its shoot's control-plane namespace, which is the technical id.
        where.add(f"shoot--{f.project}--" if f.project else None, "n.namespace STARTS WITH $ns_prefix", "ns_prefix")
        where.add(f.shoot, "n.shoot_ref = $shoot", "shoot")
        where.add(f.seed, "n.seed_name = $seed", "seed")
        where.add(f.phase, "n.phase = $phase", "phase")
        where.add(f.name_prefix, _NAME_PREFIX, "name_prefix")
    return where


def account_where(f: AccountFilter | None) -> Where:
    where = Where()
    if f:
        where.add(f.provider, "n.provider = $provider", "provider")
    return where


def resource_where(f: ResourceFilter | None) -> Where:
    where = Where()
    if f:
        where.add(f.provider, "n.provider = $provider", "provider")
        where.add(f.account, "n.account_id = $account", "account")
        where.add(f.region, "n.region = $region", "region")
        where.add(f.state, "n.state = $state", "state")
        # The same test the orphan queries use for "belongs to a shoot of this project".
        where.add(f"shoot--{f.project}--" if f.project else None, "n.cluster STARTS WITH $cluster_prefix",
                  "cluster_prefix")
        where.add(f.shoot, "n.cluster = $shoot", "shoot")
        where.add(f.name_prefix, _NAME_PREFIX, "name_prefix")
        if isinstance(f, InstanceFilter):
            where.add(f.status, "n.status = $status", "status")
            where.add(f.role, "n.role = $role", "role")
    return where
