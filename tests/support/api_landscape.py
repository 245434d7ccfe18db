"""The hand-made landscape of the GraphQL API tests: two projects, two seeds, three shoots on AWS and GCP,
machines on VMs with disks and IPs, a leaked VM, a VM of a deleted shoot, a lone Elastic IP, a bastion.
The tests compute their expectations from the same definitions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from collectors.gardener.mapping import bastion_vm_name
from collectors.records import (
    BastionRecord,
    CloudAccountRecord,
    DiskRecord,
    InstanceRecord,
    IPRecord,
    MachineRecord,
    ProjectRecord,
    Record,
    RegionRecord,
    SeedRecord,
    ShootRecord,
)
from collectors.scope import Scope
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema

CREATED = datetime.now(UTC) - timedelta(days=30)


@dataclass
class Landscape:
    """Records per scope, plus the indexes the tests compare answers with."""

    scopes: list[tuple[Scope, list[Record], list[Record]]] = field(default_factory=list)  # scope, context, records
    shoot_machines: dict[str, list[str]] = field(default_factory=dict)  # shoot uid -> machine uids
    machine_vm: dict[str, str] = field(default_factory=dict)  # machine uid -> instance uid
    vm_disks: dict[str, list[str]] = field(default_factory=dict)
    vm_ips: dict[str, list[str]] = field(default_factory=dict)
    instances: dict[str, InstanceRecord] = field(default_factory=dict)
    disks: dict[str, DiskRecord] = field(default_factory=dict)
    ips: dict[str, IPRecord] = field(default_factory=dict)
    shoots: dict[str, ShootRecord] = field(default_factory=dict)

    def write(self, graph: Graph) -> None:
        ensure_schema(graph)
        ingest = Ingest(graph)
        for scope, context, records in self.scopes:
            if context:
                ingest.write_context(scope, context)
            with ingest.scope(scope) as run:
                run.write(records)
        self.written_as = fingerprint(graph)

    written_as: tuple[int, frozenset[str]] | None = None


_schema_done: set[str] = set()


def ensure_schema(graph: Graph) -> None:
    """Constraints and indexes once per server: wiping the graph keeps them."""
    if graph.conn.uri not in _schema_done:
        install_schema(graph)
        _schema_done.add(graph.conn.uri)


def fingerprint(graph: Graph) -> tuple[int, frozenset[str]]:
    """Node count and the run ids of every collection: another write or a wipe changes it."""
    row = graph.run_read("MATCH (n) WITH count(n) AS nodes "
                         "OPTIONAL MATCH (c:Collection) RETURN nodes, collect(c.run_id) AS runs")[0]
    return int(row["nodes"]), frozenset(row["runs"])


PROJECTS = ("alpha", "beta")
SEEDS = {"seed-aws": ("aws", "eu-west-1"), "seed-gcp": ("gcp", "europe-west1")}
SHOOTS = (("alpha", "one", "seed-aws"), ("alpha", "two", "seed-gcp"), ("beta", "three", "seed-aws"))
ACCOUNTS = {"alpha": {"aws": "111111111111", "gcp": "gp-alpha"}, "beta": {"aws": "222222222222", "gcp": "gp-beta"}}
MACHINES_PER_SHOOT = 3


def build_landscape() -> Landscape:
    land = Landscape()
    garden: list[Record] = [ProjectRecord(uid=p, name=p, namespace=f"garden-{p}", created=CREATED) for p in PROJECTS]
    garden += [SeedRecord(uid=s, name=s, provider=prov, region=reg) for s, (prov, reg) in SEEDS.items()]
    machines: dict[str, list[Record]] = {seed: [] for seed in SEEDS}
    cloud: dict[tuple[str, str, str], list[Record]] = {}
    serial = 0

    def vm(provider: str, project: str, region: str, cluster: str, name: str, role: str | None = "node",
           ip: bool = False) -> InstanceRecord:
        nonlocal serial
        serial += 1
        account = ACCOUNTS[project][provider]
        zone = region + ("a" if provider == "aws" else "-b")
        uid = f"i-{serial:017x}" if provider == "aws" else f"projects/{account}/zones/{zone}/instances/{name}"
        common: dict[str, Any] = dict(provider=provider, account_id=account, region=region, zone=zone,
                                      cluster=cluster, shoot_ref=cluster, account_ref=f"{provider}:{account}",
                                      region_ref=f"{provider}:{region}", created=CREATED)
        inst = InstanceRecord(uid=uid, name=name, state="running", status="running", role=role,
                              instance_type="m5.large" if provider == "aws" else "n2-standard-2",
                              tags={"Name": name}, cluster_name_key=f"{cluster}/{name}", **common)
        disk = DiskRecord(uid=f"{uid}-boot", name=f"{name}-boot", size_gb=50, disk_type="gp3", boot=True,
                          attached=True, attached_instances=[uid], instance_ref=uid, state="in-use", **common)
        bucket = cloud.setdefault((provider, account, region), [])
        bucket += [inst, disk]
        land.instances[uid] = inst
        land.disks[disk.uid] = disk
        land.vm_disks[uid] = [disk.uid]
        land.vm_ips[uid] = []
        if ip:
            addr = IPRecord(uid=f"eipalloc-{serial:017x}", address=f"203.0.113.{serial}", allocation="elastic",
                            attached=True, instance_ref=uid, **common)
            bucket.append(addr)
            land.ips[addr.uid] = addr
            land.vm_ips[uid] = [addr.uid]
        return inst

    for project, name, seed in SHOOTS:
        provider, region = SEEDS[seed]
        tech = f"shoot--{project}--{name}"
        shoot = ShootRecord(uid=f"garden-{project}/{name}", name=name, namespace=f"garden-{project}",
                            technical_id=tech, provider=provider, region=region, seed_name=seed,
                            project_ref=project, seed_ref=seed, created=CREATED, workers=["worker-a"])
        garden.append(shoot)
        land.shoots[shoot.uid] = shoot
        land.shoot_machines[shoot.uid] = []
        for k in range(MACHINES_PER_SHOOT):
            inst = vm(provider, project, region, tech, f"{tech}-worker-a-z1-{k}", ip=k == 0)
            muid = f"{seed}/{tech}/{tech}-worker-a-z1-{k}"
            machines[seed].append(MachineRecord(
                uid=muid, name=inst.name or "", namespace=tech, seed_name=seed, phase="Running",
                shoot_ref=tech, instance_ref=inst.uid, created=CREATED))
            land.shoot_machines[shoot.uid].append(muid)
            land.machine_vm[muid] = inst.uid

    # Leaks and oddities the orphan report must find (and the traversals must show).
    vm("aws", "alpha", "eu-west-1", "shoot--alpha--one", "shoot--alpha--one-leaked")
    vm("aws", "alpha", "eu-west-1", "shoot--alpha--gone", "shoot--alpha--gone-worker-z1-0")
    # A live bastion: its Bastion object (below) claims the VM by the name AWS's extension gives it.
    bastion_vm = bastion_vm_name("aws", "garden-alpha", "one", "one-bastion")
    assert bastion_vm is not None
    vm("aws", "alpha", "eu-west-1", "shoot--alpha--one", bastion_vm, role="bastion")
    lone_common: dict[str, Any] = dict(provider="aws", account_id="111111111111", region="eu-west-1",
                                       cluster="shoot--alpha--one", shoot_ref="shoot--alpha--one",
                                       account_ref="aws:111111111111", region_ref="aws:eu-west-1", created=CREATED)
    lone_ip = IPRecord(uid="eipalloc-lone", address="198.51.100.7", allocation="elastic", attached=False,
                       **lone_common)
    spare_disk = DiskRecord(uid="vol-spare", name="spare", size_gb=100, disk_type="gp3", attached=False,
                            state="available", **{**lone_common, "cluster": "shoot--beta--three",
                                                  "shoot_ref": "shoot--beta--three"})
    cloud[("aws", "111111111111", "eu-west-1")] += [lone_ip, spare_disk]
    land.ips[lone_ip.uid] = lone_ip
    land.disks[spare_disk.uid] = spare_disk
    garden.append(BastionRecord(uid="garden-alpha/one-bastion", name="one-bastion", namespace="garden-alpha",
                                shoot_name="one", seed_name="seed-aws", provider="aws", vm_name=bastion_vm,
                                shoot_ref="garden-alpha/one", created=CREATED))

    land.scopes.append((Scope("gardener", "garden", "global", "Shoot", ("Project", "Seed", "Bastion")), [], garden))
    for seed, recs in machines.items():
        land.scopes.append((Scope("gardener", seed, "global", "Machine"), [], recs))
    for (provider, account, region), recs in cloud.items():
        context: list[Record] = [CloudAccountRecord(uid=f"{provider}:{account}", provider=provider, account_id=account),
                                 RegionRecord(uid=f"{provider}:{region}", provider=provider, name=region)]
        land.scopes.append((Scope(provider, account, region, "Instance", ("Disk", "IP")), context, recs))
    return land
