"""Planting the simulator's faults (graphinv/sim/faults.py) on one scope per source of a landscape,
and a config that lets the collectors give up quickly when they meet them."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from graphinv.sim.landscape import Account, Fault, Instance, Landscape, Region, Seed

# Short enough that a hung read ends within seconds, long enough for a loaded 2-core machine to
# answer every healthy request.
SHORT_TIMEOUTS = {"connect_timeout": "5s", "read_timeout": "5s"}
# Few retries, so a persistent fault fails its scope in seconds (each SDK's own knob).
FEW_RETRIES: dict[str, dict[str, Any]] = {
    "aws": {"max_attempts": 2},
    "azure": {"retry_total": 1},
    "openstack": {"connect_retries": 1, "status_code_retries": 1, "status_code_retry_delay": 0},
    "gcp": {},
    "gardener": {},
}


def live_owned(instances: list[Instance]) -> list[Instance]:
    return [i for i in instances if i.plant is None and i.shoot and i.state == "running"]


@dataclass
class Targets:
    """The scope of each source that gets the fault, as collector scope-key prefixes."""

    aws: tuple[Account, Region]
    gcp: Account
    azure: Account
    openstack: tuple[Account, Region]
    seed: Seed

    def prefixes(self) -> dict[str, str]:
        return {
            "aws": f"aws:{self.aws[0].id}:{self.aws[1].name}:",
            "gcp": f"gcp:{self.gcp.id}:",
            "azure": f"azure:{self.azure.id}:",
            "openstack": f"openstack:{self.openstack[0].id}:{self.openstack[1].name}:",
            "gardener": f"gardener:{self.seed.name}:",
        }


def readable_seeds(landscape: Landscape) -> Landscape:
    """The landscape with every seed readable, so every live VM is owned and nothing else fails."""
    variant = copy.deepcopy(landscape)
    for seed in variant.seeds:
        seed.access = "ok"
    return variant


def pick_targets(landscape: Landscape) -> Targets:
    """Per source, a scope holding live VMs that Machines own (and, for the seed, Machines)."""

    def region_with_vms(provider: str) -> tuple[Account, Region]:
        return next((a, r) for a in landscape.accounts if a.provider == provider for r in a.regions
                    if live_owned(r.instances))

    def account_with_vms(provider: str) -> Account:
        return next(a for a in landscape.accounts if a.provider == provider
                    and live_owned([i for r in a.regions for i in r.instances]))

    shoots_with_machines = {s.seed for s in landscape.shoots if any(m.vm for m in s.machines)}
    seed = next(s for s in landscape.seeds if s.name in shoots_with_machines)
    return Targets(aws=region_with_vms("aws"), gcp=account_with_vms("gcp"), azure=account_with_vms("azure"),
                   openstack=region_with_vms("openstack"), seed=seed)


def with_fault(landscape: Landscape, fault: Fault) -> tuple[Landscape, Targets]:
    """A copy of the landscape in which each target scope plays `fault`."""
    variant = copy.deepcopy(landscape)
    targets = pick_targets(variant)
    targets.aws[1].faults.append(fault)
    targets.gcp.faults.append(fault)
    targets.azure.faults.append(fault)
    targets.openstack[1].faults.append(fault)
    targets.seed.faults.append(fault)
    return variant, targets


def impatient(config: dict[str, Any]) -> dict[str, Any]:
    """The simulators' config with short timeouts and few retries for every source."""
    out = copy.deepcopy(config)
    for name, section in out["sources"].items():
        section.update(SHORT_TIMEOUTS)
        section.update(FEW_RETRIES.get(name, {}))
    return out
