"""`resource_ids()` of every cloud simulator: each instance, disk and IP a collector reads back from
the simulator (through the real SDK) has exactly the uid the simulator announced for its landscape
key, and nothing announced is missing. The ground-truth test maps planted keys to graph uids with
this map, so a wrong entry here would make that test compare the wrong things."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from collectors.records import DiskRecord, InstanceRecord, IPRecord
from collectors.scope import ScopeTask
from graphinv.sim.generate import generate
from graphinv.sim.landscape import Disk, Instance, Landscape, PublicIP
from tests.support.scopes import running

Planner = Callable[[Mapping[str, Any]], list[ScopeTask]]


def landscape_with_implicit_resources() -> Landscape:
    """A generated landscape plus, in each provider's first region, the shapes that make a simulator
    invent resources of its own: VMs with their own public address (running, stopped, terminated),
    a terminated VM with a data disk, and a reserved IP attached to a VM that has a public address."""
    landscape = generate(0.1, 5)
    seen: set[str] = set()
    for account in landscape.accounts:
        if account.provider in seen:
            continue
        seen.add(account.provider)
        region = account.regions[0]
        prefix = f"x-{account.provider}"
        for state in ("running", "stopped", "terminated"):
            region.instances.append(Instance(
                key=f"{prefix}-{state}", name=f"{prefix}-{state}-vm", state=state, public_ip=True,
                type=region.instances[0].type if region.instances else "m5.large",
                disks=[Disk(key=f"{prefix}-{state}-data", size_gb=10)]))
        region.ips.append(PublicIP(key=f"{prefix}-eip", attached_to=f"{prefix}-running"))
    landscape.validate()
    return landscape


def collected_uids(tasks: list[ScopeTask]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for task in tasks:
        for record in task.fetch():  # a failing scope fails the test: these landscapes have none
            if isinstance(record, InstanceRecord | DiskRecord | IPRecord):
                found.add((record.label, record.uid))
    return found


def announced_and_collected(sim: Any, plan: Planner) -> tuple[dict[str, tuple[str, str]], set[tuple[str, str]]]:
    """What the simulator announces, and what its provider's collector reads back from it."""
    with running(sim):
        return sim.resource_ids(), collected_uids(plan(sim.source_config()))


def assert_map_matches(announced: dict[str, tuple[str, str]], collected: set[tuple[str, str]],
                       landscape: Landscape, provider: str) -> None:
    unknown = collected - set(announced.values())
    assert not unknown, f"{provider}: collected but not in resource_ids(): {sorted(unknown)[:10]}"
    missing = {key: uid for key, uid in announced.items() if uid not in collected}
    assert not missing, f"{provider}: in resource_ids() but not collected: {sorted(missing.items())[:10]}"
    assert len(set(announced.values())) == len(announced), f"{provider}: two keys share a uid"
    # Every explicit landscape resource that the provider still serves is in the map under its key.
    explicit = {key for a in landscape.accounts if a.provider == provider for r in a.regions
                for key in [*(i.key for i in r.instances), *(d.key for i in r.instances for d in i.disks),
                            *(d.key for d in r.disks), *(ip.key for ip in r.ips)]}
    assert explicit - set(announced) <= terminated_leftovers(landscape, provider), \
        f"{provider}: landscape keys missing from resource_ids(): {sorted(explicit - set(announced))[:10]}"


def terminated_leftovers(landscape: Landscape, provider: str) -> set[str]:
    """Keys a provider may no longer serve: terminated instances (GCP and Azure forget them)."""
    return {i.key for a in landscape.accounts if a.provider == provider for r in a.regions
            for i in r.instances if i.state == "terminated"}


@pytest.fixture(scope="module")
def landscape() -> Landscape:
    return landscape_with_implicit_resources()


@pytest.mark.parametrize("engine", ["native", "moto"])
def test_aws_resource_ids(landscape: Landscape, tmp_path: Path, engine: str) -> None:
    from collectors.aws import plan
    from graphinv.sim.aws import OWN_PUBLIC_IP_SUFFIX, AwsSim

    with AwsSim(landscape, tmp_path, engine=engine) as sim:  # type: ignore[arg-type]
        announced = sim.resource_ids()
        collected = collected_uids(plan(sim.source_config()))
    assert_map_matches(announced, collected, landscape, "aws")
    assert announced["x-aws-running#root"][0] == "Disk"
    # An Elastic IP replaces the instance's own address; a stopped or terminated VM has none.
    assert not {f"x-aws-{s}{OWN_PUBLIC_IP_SUFFIX}" for s in ("running", "stopped", "terminated")} & set(announced)
    assert "x-aws-terminated#root" not in announced and announced["x-aws-terminated"][0] == "Instance"
    bastions = [i.key for a, _r, i in landscape.instances() if a.provider == "aws" and i.role == "bastion"
                and i.state == "running"]
    assert all(announced[f"{key}{OWN_PUBLIC_IP_SUFFIX}"][1].startswith("aws:") for key in bastions)


def test_gcp_resource_ids(landscape: Landscape, tmp_path: Path) -> None:
    from collectors.gcp import plan
    from graphinv.sim.gcp import EPHEMERAL_IP_SUFFIX, GcpSim

    announced, collected = announced_and_collected(GcpSim(landscape, tmp_path), plan)
    assert_map_matches(announced, collected, landscape, "gcp")
    assert announced["x-gcp-running/boot"][0] == "Disk"
    assert f"x-gcp-running{EPHEMERAL_IP_SUFFIX}" not in announced  # it uses the reserved address
    assert announced[f"x-gcp-stopped{EPHEMERAL_IP_SUFFIX}"][1].startswith("gcp:")
    assert "x-gcp-terminated" not in announced and "x-gcp-terminated/boot" not in announced
    assert announced["x-gcp-terminated-data"][0] == "Disk"  # detached, still there


def test_azure_resource_ids(landscape: Landscape, tmp_path: Path) -> None:
    from collectors.azure import plan
    from graphinv.sim.azure import AzureSim

    announced, collected = announced_and_collected(AzureSim(landscape, tmp_path), plan)
    assert_map_matches(announced, collected, landscape, "azure")
    for state in ("running", "stopped", "terminated"):
        assert announced[f"x-azure-{state}/os-disk"][0] == "Disk"
        assert announced[f"x-azure-{state}/public-ip"][0] == "IP"
    assert "x-azure-terminated" not in announced
    assert all(uid == uid.lower() for _label, uid in announced.values())


def test_openstack_resource_ids(landscape: Landscape, tmp_path: Path) -> None:
    from collectors.openstack import plan
    from graphinv.sim.openstack import OpenStackSim

    announced, collected = announced_and_collected(OpenStackSim(landscape, tmp_path), plan)
    assert_map_matches(announced, collected, landscape, "openstack")
    assert announced["x-openstack-running/boot"][0] == "Disk"
    assert announced["x-openstack-running/public-ip"][0] == "IP"


def test_runtime_merges_every_provider(tmp_path: Path) -> None:
    from graphinv.sim.runtime import SimulatedLandscape

    landscape = generate(0.05, 7)
    with SimulatedLandscape(landscape, tmp_path) as sim:
        merged = sim.resource_ids()
        per_provider = {p: c.resource_ids() for p, c in sim.clouds.items()}
    assert set(per_provider) == {"aws", "gcp", "azure", "openstack"}
    assert merged == {k: v for ids in per_provider.values() for k, v in ids.items()}
    assert sum(len(ids) for ids in per_provider.values()) == len(merged)
