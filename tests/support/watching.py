"""Shared by the watch tests and bench/watch.py: a small AWS landscape, and waiting on conditions."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from graphinv.sim.landscape import Account, Instance, Landscape, Machine, Project, Region, Seed, Shoot, Worker

T = TypeVar("T")
ACCOUNT = "123456789012"
REGION = "eu-west-1"
ZONE = "eu-west-1a"


def aws_landscape(seeds: int = 2, shoots_per_seed: int = 2, machines_per_shoot: int = 2,
                  stray_vms: int = 0) -> Landscape:
    """Projects `core`; seeds `aws-1`..; shoots `s<seed>-<n>` with AWS VMs behind every machine.
    `stray_vms`: per seed, VMs carrying its first shoot's cluster tag that no machine runs on (orphans)."""
    region = Region(REGION, zones=[ZONE, "eu-west-1b"])
    landscape = Landscape(projects=[Project("core")], accounts=[Account("aws", ACCOUNT, regions=[region])])
    for seed_index in range(1, seeds + 1):
        seed = f"aws-{seed_index}"
        landscape.seeds.append(Seed(seed, "aws", REGION))
        for shoot_index in range(1, shoots_per_seed + 1):
            shoot = Shoot(f"s{seed_index}-{shoot_index}", "core", seed, "aws", REGION, ACCOUNT,
                          workers=[Worker("pool", "m5.large", 1, 5, [ZONE])])
            for machine_index in range(machines_per_shoot):
                name = f"{shoot.technical_id}-pool-z1-{machine_index:05d}-aaaaa"
                key = f"vm:{shoot.technical_id}/{machine_index}"
                region.instances.append(Instance(key, name, ZONE, shoot=f"core/{shoot.name}",
                                                 created="2026-01-01T00:00:00Z"))
                shoot.machines.append(Machine(name, vm=key))
            landscape.shoots.append(shoot)
    for first in [s for s in landscape.shoots if s.name.endswith("-1")]:  # each seed's first shoot
        for index in range(stray_vms):
            region.instances.append(Instance(f"vm:stray/{first.technical_id}/{index}",
                                             f"{first.technical_id}-stray-{index}", ZONE,
                                             shoot=f"core/{first.name}", created="2026-01-01T00:00:00Z"))
    landscape.validate()
    return landscape


def wait_for(condition: Callable[[], T], timeout: float = 60.0, what: str = "condition",
             interval: float = 0.05) -> T:
    """Poll `condition` until it returns something truthy; generous timeouts, never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
