"""The landscape of the simulated OpenStack tests, shared by the simulator's own tests and the OpenStack collector's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from graphinv.sim.landscape import Landscape, parse_landscape
from graphinv.sim.openstack import OpenStackSim
from tests.support.scopes import running

WORKERS = [f"shoot--dev--alpha-pool-z1-{i:05d}-abcde" for i in range(5)]
BASTION = "shoot--dev--alpha-cli-7k2p-bastion-0f3a9"


def openstack_landscape(seed: int = 7) -> Landscape:
    """Two regions in `dev-eu` (one forbidden), a throttled `ops`, a forbidden `locked`, and an AWS
    account the OpenStack simulator must ignore."""
    workers: list[dict[str, Any]] = [
        {"key": f"w{i}", "name": name, "shoot": "dev/alpha", "type": "g1.large", "zone": "az1" if i % 2 else "az2",
         "disks": [{"key": f"w{i}-data", "size_gb": 20, "shoot": "dev/alpha"}] if i < 2 else []}
        for i, name in enumerate(WORKERS)
    ]
    return parse_landscape({
        "seed": seed,
        "accounts": [
            {"provider": "openstack", "id": "dev-eu", "regions": [
                {"name": "RegionOne", "zones": ["az1", "az2"], "instances": [
                    *workers,
                    {"key": "bastion", "name": BASTION, "shoot": "dev/alpha", "role": "bastion", "type": "g1.small"},
                    {"key": "legacy", "name": "legacy-db", "state": "stopped", "type": "m1.xlarge",
                     "tags": {"owner": "db-team"}, "public_ip": True, "created": "2023-05-06T07:08:09Z"},
                    {"key": "going", "name": "going-away", "state": "terminated"},
                    {"key": "booting", "name": "shoot--dev--alpha-pool-z1-99999-zzzzz", "shoot": "dev/alpha",
                     "state": "pending"},
                ], "disks": [
                    {"key": "orphan-pv", "shoot": "dev/alpha", "size_gb": 100, "created": "2024-02-03T04:05:06Z"},
                    {"key": "scratch", "name": "scratch", "size_gb": 5, "tags": {"purpose": "tmp"}},
                    {"key": "shared", "size_gb": 8, "attached_to": "legacy", "type": "ssd"},
                ], "ips": [
                    {"key": "bastion-ip", "attached_to": "bastion", "shoot": "dev/alpha"},
                    {"key": "leaked-lb", "shoot": "dev/alpha", "address": "172.24.9.9"},
                    {"key": "spare", "tags": {"team": "net"}},
                ]},
                {"name": "RegionTwo", "access": "forbidden", "instances": [{"key": "hidden", "name": "hidden"}]},
            ]},
            {"provider": "openstack", "id": "ops", "throttle_times": 3, "regions": [
                {"name": "RegionOne", "instances": [{"key": "ops1", "name": "ops-1"},
                                                    {"key": "ops2", "name": "ops-2"}]},
            ]},
            {"provider": "openstack", "id": "locked", "access": "forbidden", "regions": [
                {"name": "RegionOne", "instances": [{"key": "secret-vm", "name": "secret-vm"}]},
            ]},
            {"provider": "aws", "id": "111111111111", "regions": [
                {"name": "eu-west-1", "instances": [{"key": "aws-vm", "name": "aws-vm"}]},
            ]},
        ],
    })


@contextmanager
def openstack_sim(workdir: Path, **options: Any) -> Iterator[OpenStackSim]:
    """The landscape above served with two items a page, so that every listing pages."""
    with running(OpenStackSim(openstack_landscape(), workdir, page_size=2, **options)) as sim:
        yield sim
