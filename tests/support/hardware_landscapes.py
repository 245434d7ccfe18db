"""Landscapes for the hardware tests (machine types, CloudProfiles, capacity), and the capacity
figures computed from a landscape file alone, without the graph: what the collected graph must say."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any

import yaml

from graphinv.sim.generate import generate
from graphinv.sim.landscape import Instance, Landscape, Machine, Project, Shoot, Worker, technical_id


class JSONLikeLoader(yaml.SafeLoader):
    """YAML as an API server hands it out: timestamps stay strings (JSON has no date type)."""


JSONLikeLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_documents(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=JSONLikeLoader))


DRIFT_PROJECT = "hw"
DRIFT_SHOOT = "gpu"
GPU_POOL, STD_POOL, OLD_POOL = "gpu", "std", "old"
UNKNOWN_TYPE = "x9.huge"
DRIFT_REGION = "us-east-1"  # the generator leaves the first AWS GPU type out of this region's catalogue


def aws_only(scale: float = 0.05, seed: int = 3) -> Landscape:
    """A generated landscape cut down to AWS (Gardener and one cloud keep the collection short)."""
    full = generate(scale=scale, seed=seed)
    shoots = [s for s in full.shoots if s.provider == "aws"]
    keep = {f"{s.project}/{s.name}" for s in shoots}
    projects = {s.project for s in shoots}
    return replace(full, shoots=shoots, projects=[p for p in full.projects if p.name in projects],
                   seeds=[s for s in full.seeds if s.provider == "aws"],
                   bastions=[b for b in full.bastions if f"{b.project}/{b.shoot}" in keep],
                   accounts=[a for a in full.accounts if a.provider == "aws"],
                   machine_types=[t for t in full.machine_types if t.provider == "aws"])


def add_drift_cases(landscape: Landscape) -> None:
    """A shoot in us-east-1 whose pools hit every drift finding, and an orphan VM of a type no source knows.

    - pool `gpu`: g5.xlarge, which the us-east-1 catalogue lacks (the generator plants that);
    - pool `std`: m5.large, whose CloudProfile vCPUs disagree with the cloud's (planted too);
    - pool `old`: m5.xlarge, made not usable in the CloudProfile here."""
    for entry in landscape.machine_types:
        if entry.provider == "aws" and entry.name == "m5.xlarge":
            entry.profile_usable = False
    gpu_type = next(t for t in landscape.machine_types if t.provider == "aws" and DRIFT_REGION in t.absent_in)
    account = next(a for a in landscape.accounts if a.provider == "aws")
    region = next(r for r in account.regions if r.name == DRIFT_REGION)
    seed = next(s for s in landscape.seeds if s.provider == "aws")
    landscape.projects.append(Project(name=DRIFT_PROJECT))
    shoot = Shoot(name=DRIFT_SHOOT, project=DRIFT_PROJECT, seed=seed.name, provider="aws", region=DRIFT_REGION,
                  account=account.id, cloud_profile="aws",
                  workers=[Worker(GPU_POOL, gpu_type.name, 2, 4, [region.zones[0]]),
                           Worker(STD_POOL, "m5.large", 1, 3, [region.zones[0]]),
                           Worker(OLD_POOL, "m5.xlarge", 1, 2, [region.zones[0]])])
    tech = technical_id(DRIFT_PROJECT, DRIFT_SHOOT)
    for pool, count, kind in ((GPU_POOL, 2, gpu_type.name), (STD_POOL, 1, "m5.large"), (OLD_POOL, 1, "m5.xlarge")):
        for n in range(count):
            name = f"{tech}-{pool}-z1-hw{n:03d}-abcde"
            key = f"hw-{pool}-{n}"
            region.instances.append(Instance(key=key, name=name, zone=region.zones[0], type=kind,
                                             shoot=f"{DRIFT_PROJECT}/{DRIFT_SHOOT}"))
            shoot.machines.append(Machine(name=name, vm=key))
    # A VM of the shoot that no Machine runs on (an orphan) with a type neither source knows.
    region.instances.append(Instance(key="hw-unknown", name=f"{tech}-{GPU_POOL}-z1-hw999-zzzzz", zone=region.zones[0],
                                     type=UNKNOWN_TYPE, shoot=f"{DRIFT_PROJECT}/{DRIFT_SHOOT}"))
    landscape.shoots.append(shoot)
    landscape.validate()


def hardware_of(landscape: Landscape, provider: str, region: str, type_name: str) -> tuple[int, int, int, str] | None:
    """(vcpus, memory MiB, gpus, gpu model) of a type in a region, as graphinv should resolve it: the
    cloud's catalogue where the region offers the type (EC2 names GPUs `<Manufacturer> <Name>`),
    otherwise the CloudProfile's entry (which names no GPU model); None when neither knows it."""
    entry = next((t for t in landscape.machine_types if t.provider == provider and t.name == type_name), None)
    if entry is None:
        return None
    if region not in entry.absent_in:
        return entry.vcpus, entry.memory_mib, entry.gpus, f"NVIDIA {entry.gpu_model}" if entry.gpus else ""
    if entry.in_profile:
        return entry.profile_vcpus or entry.vcpus, entry.memory_mib, entry.gpus, "unknown model" if entry.gpus else ""
    return None


def expected_capacity_by_project(landscape: Landscape) -> dict[str, dict[str, Any]]:
    """Running VMs per project (`(none)` for VMs without a shoot's cluster tag), from the file alone."""
    out: dict[str, dict[str, Any]] = defaultdict(lambda: {"vms": 0, "vcpus": 0, "memory_mib": 0, "gpus": 0,
                                                          "unknown_vms": 0, "gpus_by_model": {}})
    for account, region, inst in landscape.instances():
        if inst.state != "running":
            continue
        role = inst.role or ("node" if inst.shoot else None)
        project = inst.shoot.split("/", 1)[0] if role == "node" and inst.shoot else "(none)"
        row = out[project]
        row["vms"] += 1
        hardware = hardware_of(landscape, account.provider, region.name, inst.type)
        if hardware is None:
            row["unknown_vms"] += 1
            continue
        vcpus, memory, gpus, model = hardware
        row["vcpus"] += vcpus
        row["memory_mib"] += memory
        row["gpus"] += gpus
        if gpus:
            row["gpus_by_model"][model] = row["gpus_by_model"].get(model, 0) + gpus
    return dict(out)
