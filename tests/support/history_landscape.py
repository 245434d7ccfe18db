"""A small AWS landscape for the change-history tests, and the edits planned between two reads."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from graphinv.collect import CollectionSummary, run_tasks
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema
from graphinv.sim.landscape import (
    Account,
    Disk,
    Instance,
    Landscape,
    Machine,
    Project,
    PublicIP,
    Region,
    Seed,
    Shoot,
    Worker,
)
from graphinv.sim.runtime import SimulatedLandscape
from graphinv.sources import plan_sources

ACCOUNT = "111111111111"
OTHER_REGION = "eu-central-1"


def base_landscape() -> Landscape:
    """Project p, shoots p/a (3 machines) and p/b (1 machine) on seed s1; an orphan VM; a data disk
    attached to vm-a2; a VM in a second region (forbidden on demand)."""
    workers = [Worker("pool", "m5.large")]
    return Landscape(
        name="history", seed=5,
        projects=[Project("p")],
        seeds=[Seed("s1", "aws", "eu-west-1")],
        shoots=[
            Shoot("a", "p", "s1", "aws", "eu-west-1", ACCOUNT, workers=workers,
                  machines=[Machine("m-a1", vm="vm-a1"), Machine("m-a2", vm="vm-a2"), Machine("m-a3", vm="vm-a3")]),
            Shoot("b", "p", "s1", "aws", "eu-west-1", ACCOUNT, workers=workers,
                  machines=[Machine("m-b1", vm="vm-b1")]),
        ],
        accounts=[Account("aws", ACCOUNT, regions=[
            Region("eu-west-1", instances=[
                Instance("vm-a1", "m-a1", shoot="p/a", tags={"team": "blue"}),
                Instance("vm-a2", "m-a2", shoot="p/a"),
                Instance("vm-a3", "m-a3", shoot="p/a"),
                Instance("vm-b1", "m-b1", shoot="p/b"),
                Instance("vm-orphan", "old-node", shoot="p/a"),
            ], disks=[Disk("data-a2", size_gb=20, shoot="p/a", attached_to="vm-a2")]),
            Region(OTHER_REGION, instances=[Instance("vm-other", "other", shoot="p/b")]),
        ])],
    )


@dataclass
class Planned:
    """Landscape keys / names the planned edits touch."""

    gone_vm: str = "vm-orphan"
    detached_disk: str = "data-a2"
    deleted_machine: str = "m-a3"
    new_ip: str = "ip-new"
    ip_holder: str = "vm-a1"
    hibernated_shoot: str = "b"
    retagged_vm: str = "vm-a1"


def _region(land: Landscape, name: str = "eu-west-1") -> Region:
    return next(r for r in land.accounts[0].regions if r.name == name)


def planned_edit(land: Landscape) -> Landscape:
    """A VM gone, a disk detached, a Machine deleted, a new public IP, a shoot hibernated, a tag changed."""
    p = Planned()
    edited = copy.deepcopy(land)
    region = _region(edited)
    region.instances = [i for i in region.instances if i.key != p.gone_vm]
    next(d for d in region.disks if d.key == p.detached_disk).attached_to = None
    shoot_a = next(s for s in edited.shoots if s.name == "a")
    shoot_a.machines = [m for m in shoot_a.machines if m.name != p.deleted_machine]
    region.ips.append(PublicIP(p.new_ip, attached_to=p.ip_holder, shoot="p/a"))
    next(s for s in edited.shoots if s.name == p.hibernated_shoot).hibernated = True
    next(i for i in region.instances if i.key == p.retagged_vm).tags["team"] = "green"
    return edited


def forbid_other_region(land: Landscape) -> Landscape:
    """The second region unreadable, and its VM deleted behind it: nothing may be recorded for it."""
    edited = copy.deepcopy(land)
    other = _region(edited, OTHER_REGION)
    other.access = "forbidden"
    other.instances = []
    return edited


def collect(graph: Graph, land: Landscape, workdir: Any, capture: bool = True,
            clouds_first: bool = False) -> tuple[CollectionSummary, dict[str, tuple[str, str]]]:
    """Serve `land`, collect every source into `graph`; returns the summary and key -> (label, uid).

    `clouds_first` reads every cloud scope to the end before the Gardener side starts, so a Machine
    the Gardener read sweeps is stamped after its VM's cloud read began (docs/ownership.md, row 8).
    Without it the scopes run two at a time in either order, as in production.
    """
    with SimulatedLandscape(land, workdir) as sim:
        install_schema(graph)
        ingest = Ingest(graph, capture_changes=capture)
        tasks = plan_sources(sim.config())
        if not clouds_first:
            return run_tasks(ingest, tasks, concurrency=2), sim.resource_ids()
        clouds = [t for t in tasks if t.scope.source != "gardener"]
        summary = run_tasks(ingest, clouds, concurrency=2)
        garden = run_tasks(ingest, [t for t in tasks if t.scope.source == "gardener"], concurrency=2)
        summary.results.extend(garden.results)
        return summary, sim.resource_ids()
