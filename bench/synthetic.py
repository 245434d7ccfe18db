"""A synthetic landscape as records, shaped like a real one: shoots with machines on VMs with disks and IPs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from collectors.records import (
    CloudAccountRecord,
    DiskRecord,
    InstanceRecord,
    IPRecord,
    MachineRecord,
    ProjectRecord,
    Record,
    RegionRecord,
    ShootRecord,
)
from collectors.scope import Scope

CREATED = datetime(2026, 6, 1, tzinfo=UTC)


@dataclass
class Synthetic:
    instances: int
    machines_per_shoot: int = 5
    disks_per_instance: int = 2
    ip_every: int = 2  # one Elastic IP for every n-th instance
    accounts: int = 10
    machine_lost_every: int = 20  # every n-th VM has lost its machine (an orphan)

    @property
    def shoots(self) -> int:
        return max(1, self.instances // self.machines_per_shoot)

    def account(self, i: int) -> str:
        return f"{100000000000 + i % self.accounts}"

    def context(self) -> list[Record]:
        out: list[Record] = [RegionRecord(uid="aws:eu-west-1", provider="aws", name="eu-west-1")]
        out += [CloudAccountRecord(uid=f"aws:{self.account(a)}", provider="aws", account_id=self.account(a))
                for a in range(self.accounts)]
        return out

    def gardener(self) -> Iterator[Record]:
        for p in range(max(1, self.shoots // 3)):
            yield ProjectRecord(uid=f"p{p}", name=f"p{p}", namespace=f"garden-p{p}")
        for s in range(self.shoots):
            p = s // 3
            yield ShootRecord(uid=f"garden-p{p}/s{s}", name=f"s{s}", namespace=f"garden-p{p}",
                              technical_id=f"shoot--p{p}--s{s}", provider="aws", region="eu-west-1",
                              seed_name="seed", project_ref=f"p{p}", created=CREATED)

    def _cluster(self, i: int) -> str:
        s = i // self.machines_per_shoot
        return f"shoot--p{s // 3}--s{s}"

    def machines(self) -> Iterator[Record]:
        for i in range(self.instances):
            if i % self.machine_lost_every == self.machine_lost_every - 1:
                continue  # 5 % of VMs (by default) have lost their machine
            cluster = self._cluster(i)
            yield MachineRecord(uid=f"seed/{cluster}/m{i}", name=f"m{i}", namespace=cluster, seed_name="seed",
                                provider_id=f"aws:///eu-west-1a/i-{i:017x}", phase="Running",
                                shoot_ref=cluster, instance_ref=f"i-{i:017x}", created=CREATED)

    def cloud(self) -> Iterator[Record]:
        for i in range(self.instances):
            cluster = self._cluster(i)
            uid = f"i-{i:017x}"
            acct = self.account(i)
            common = dict(provider="aws", account_id=acct, region="eu-west-1", zone="eu-west-1a",
                          cluster=cluster, shoot_ref=cluster, account_ref=f"aws:{acct}", region_ref="aws:eu-west-1",
                          created=CREATED)
            tags = {"Name": f"m{i}", f"kubernetes.io/cluster/{cluster}": "1"}
            yield InstanceRecord(uid=uid, name=f"m{i}", state="running", status="running", role="node",
                                 instance_type="m5.large", tags=tags,
                                 provider_id=f"aws:///eu-west-1a/{uid}", cluster_name_key=f"{cluster}/m{i}",
                                 **common)
            for d in range(self.disks_per_instance):
                yield DiskRecord(uid=f"vol-{i:015x}{d:02x}", size_gb=50, disk_type="gp3", boot=d == 0, attached=True,
                                 attached_instances=[uid], instance_ref=uid, state="in-use", **common)
            if i % 50 == 7:  # a leaked volume of a shoot that is gone, and a reserved IP nobody uses
                gone = dict(common, cluster=f"shoot--gone--s{i}", shoot_ref=f"shoot--gone--s{i}")
                yield DiskRecord(uid=f"vol-{i:015x}ff", size_gb=100, disk_type="gp3", state="available",
                                 **gone)
                yield IPRecord(uid=f"eipalloc-{i:017x}ff", address=f"11.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
                               allocation="elastic", **gone)
            if i % self.ip_every == 0:
                yield IPRecord(uid=f"eipalloc-{i:017x}", address=f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
                               allocation="elastic", attached=True, instance_ref=uid, **common)

    def scopes(self) -> list[tuple[Scope, Iterator[Record]]]:
        return [
            (Scope("gardener", "garden", "global", "Shoot", ("Project",)), self.gardener()),
            (Scope("gardener", "seed", "global", "Machine"), self.machines()),
            (Scope("aws", "all", "eu-west-1", "Instance", ("Disk", "IP")), self.cloud()),
        ]

    def node_count(self) -> int:
        projects = max(1, self.shoots // 3)
        machines = self.instances - self.instances // self.machine_lost_every
        ips = (self.instances + self.ip_every - 1) // self.ip_every
        leaked = len(range(7, self.instances, 50)) * 2
        return projects + self.shoots + machines + self.instances * (1 + self.disks_per_instance) + ips + leaked
