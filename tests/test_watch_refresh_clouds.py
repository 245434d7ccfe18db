"""Targeted re-reads of one VM (graphinv/watch/refresh.py) for GCP, Azure and OpenStack, with the real
SDKs against the simulators: a Machine event naming a VM makes the reader fetch that VM with its disks
and addresses, written into the collector's own scopes without a sweep, exactly as the full read of
the same simulator writes them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from collectors.records import MachineRecord
from graphinv.collect import run_tasks
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema
from graphinv.sources import plan_sources
from graphinv.watch.refresh import TargetedRefresh, VmReader
from graphinv.watch.settings import CloudRefreshSettings
from graphinv.watch.stream import Change
from tests.support.watching import wait_for

# What a read writes that says when or by which run, not what the cloud said.
BOOKKEEPING = {"first_seen", "last_seen", "run_id", "owner_changed_at", "lost_edge_at"}


def nodes_of(graph: Graph, instance_uid: str) -> dict[str, dict[str, Any]]:
    """The VM, the disks attached to it and the addresses on it, by uid, without bookkeeping."""
    rows = graph.run_read(
        "MATCH (i:Instance {uid: $uid}) "
        "OPTIONAL MATCH (d:Disk) WHERE d.instance_ref = i.uid OR i.uid IN coalesce(d.attached_instances, []) "
        "OPTIONAL MATCH (p:IP {instance_ref: i.uid}) "
        "WITH i, collect(DISTINCT d) + collect(DISTINCT p) AS others "
        "UNWIND [i] + others AS n RETURN DISTINCT n", {"uid": instance_uid})
    return {row["n"]["uid"]: {k: v for k, v in dict(row["n"]).items() if k not in BOOKKEEPING} for row in rows}


def count_all(graph: Graph) -> dict[str, int]:
    rows = graph.run_read("MATCH (n) WHERE n:Instance OR n:Disk OR n:IP RETURN labels(n)[0] AS l, count(*) AS c")
    return {r["l"]: r["c"] for r in rows}


def machine(provider_id: str, cluster: str = "shoot--dev--alpha") -> MachineRecord:
    return MachineRecord(uid=f"seed/{cluster}/m", name="m", namespace=cluster, provider_id=provider_id)


def reread(graph: Graph, reader: VmReader, provider_id: str) -> TargetedRefresh:
    """A Machine ADDED with `provider_id`, as a watch tells its listeners; then wait for the re-read."""
    refresh = TargetedRefresh(Ingest(graph), [reader], CloudRefreshSettings(debounce=timedelta(milliseconds=50)))
    refresh.start()
    try:
        refresh(None, [Change("ADDED", machine(provider_id), time.time())], time.time())  # type: ignore[arg-type]
        wait_for(lambda: refresh.stats.reads + refresh.stats.failed >= 1 and refresh.pending() == 0, 60,
                 "the re-read")
    finally:
        refresh.stop()
    return refresh


def check_reread_matches_full_read(graph: Graph, sources: dict[str, Any], source: str, reader: VmReader,
                                   provider_id: str, instance_uid: str, expect_disks: int, expect_ips: int) -> None:
    install_schema(graph)
    run_tasks(Ingest(graph), plan_sources({"sources": sources}, [source]))
    full = nodes_of(graph, instance_uid)
    assert instance_uid in full
    labels = [graph.run_read("MATCH (n {uid: $u}) RETURN labels(n)[0] AS l", {"u": u})[0]["l"] for u in full]
    assert labels.count("Disk") == expect_disks and labels.count("IP") == expect_ips, labels
    collections = graph.run_read("MATCH (c:Collection) RETURN c.uid AS uid, c.last_complete_started AS at "
                                 "ORDER BY uid")
    # Take the VM and what hangs on it out of the graph; everything else stays as the full read left it.
    graph.run_write("UNWIND $uids AS uid MATCH (n {uid: uid}) DETACH DELETE n", {"uids": list(full)})
    others = count_all(graph)

    refresh = reread(graph, reader, provider_id)
    assert refresh.stats.failed == 0 and refresh.stats.not_found == 0, refresh.stats
    assert [t.instance_uid for t in refresh.done] == [instance_uid]
    assert nodes_of(graph, instance_uid) == full  # same nodes, same scopes, same properties
    after = count_all(graph)
    assert {k: after.get(k, 0) - others.get(k, 0) for k in ("Instance", "Disk", "IP")} == \
        {"Instance": 1, "Disk": expect_disks, "IP": expect_ips}  # nothing else written, nothing swept
    # A targeted read claims nothing about the rest of its scope: no Collection moved.
    assert graph.run_read("MATCH (c:Collection) RETURN c.uid AS uid, c.last_complete_started AS at "
                          "ORDER BY uid") == collections


def check_unknown_vm_is_not_found(graph: Graph, reader: VmReader, provider_id: str) -> None:
    before = count_all(graph)
    refresh = reread(graph, reader, provider_id)
    assert refresh.stats.not_found == 1 and refresh.stats.failed == 0 and refresh.done == [], refresh.stats
    assert count_all(graph) == before


# -- OpenStack ------------------------------------------------------------------------------------
@pytest.fixture
def openstack(tmp_path: Path) -> Iterator[Any]:
    from tests.support.openstack_landscapes import openstack_sim

    with openstack_sim(tmp_path) as sim:
        yield sim


def test_openstack_reread_of_one_server_with_its_volumes_and_floating_ip(graph: Graph, openstack: Any) -> None:
    from graphinv.watch.openstack_refresh import OpenStackVmReader

    config = openstack.source_config()
    ids = openstack.provider_ids()
    reader = OpenStackVmReader(config)
    # `legacy`: a floating IP on its port and a second volume besides its boot volume.
    check_reread_matches_full_read(graph, {"openstack": config}, "openstack", reader, ids["legacy"],
                                   ids["legacy"].removeprefix("openstack:///"), expect_disks=2, expect_ips=1)
    # machine-controller-manager's form names the region too.
    server = ids["w0"].removeprefix("openstack:///")
    graph.run_write("MATCH (n {uid: $u}) DETACH DELETE n", {"u": server})
    refresh = reread(graph, reader, f"openstack:///RegionOne/{server}")
    assert [t.instance_uid for t in refresh.done] == [server] and refresh.stats.failed == 0
    unknown = "openstack:///0b5c3f4e-1d2a-4c8b-9e7f-000000000000"
    # Asked everywhere, a region that answers 403 cannot prove the server absent: a failure (the
    # schedule decides), never a "not found".
    refresh = reread(graph, reader, unknown)
    assert refresh.stats.failed == 1 and refresh.stats.not_found == 0 and refresh.done == []
    readable = {"clouds": [{**c, "regions": ["RegionOne"]} for c in config["clouds"] if c["name"] == "dev-eu"]}
    check_unknown_vm_is_not_found(graph, OpenStackVmReader(readable), unknown)


# -- GCP ------------------------------------------------------------------------------------------
@pytest.fixture
def gcp(tmp_path: Path) -> Iterator[Any]:
    from graphinv.sim.gcp import GcpSim
    from graphinv.sim.landscape import parse_landscape
    from tests.support.gcp_landscapes import landscape_data
    from tests.support.scopes import running

    with running(GcpSim(parse_landscape(landscape_data()), tmp_path)) as sim:
        yield sim


def test_gcp_reread_of_one_instance_with_its_disks_and_addresses(graph: Graph, gcp: Any) -> None:
    from collectors.provider_ids import instance_uid
    from graphinv.watch.gcp_refresh import GcpVmReader
    from tests.support.gcp_landscapes import PROJECT

    config = {**gcp.source_config(), "projects": [PROJECT]}  # the readable project (others are planted faults)
    ids = gcp.provider_ids()
    reader = GcpVmReader(config)
    # node-a: boot and data disk, a reserved static address; bastion: boot disk, an ephemeral NAT address.
    for key, disks, ips in (("node-a", 2, 1), ("bastion", 1, 1)):
        uid = instance_uid(ids[key])
        assert uid is not None
        check_reread_matches_full_read(graph, {"gcp": config}, "gcp", reader, ids[key], uid, disks, ips)
    zone = ids["node-a"].split("/")[-2]
    check_unknown_vm_is_not_found(graph, reader, f"gce:///{PROJECT}/{zone}/no-such-vm")


# -- Azure ----------------------------------------------------------------------------------------
@pytest.fixture
def azure(tmp_path: Path) -> Iterator[Any]:
    from tests.support.azure_landscapes import start_sim

    sim = start_sim(tmp_path)
    try:
        yield sim
    finally:
        sim.stop()


def test_azure_reread_of_one_vm_with_its_disks_and_public_ip(graph: Graph, azure: Any) -> None:
    from collectors.provider_ids import instance_uid
    from graphinv.watch.azure_refresh import AzureVmReader
    from tests.support.azure_landscapes import SUB_MAIN

    config = {**azure.source_config(), "subscriptions": [SUB_MAIN]}  # the readable subscription
    ids = azure.provider_ids()
    reader = AzureVmReader(config)
    # jump: OS disk, a data disk and a public IP on its NIC; b1 (a bastion): OS disk and a public IP.
    for key, disks, ips in (("jump", 2, 1), ("b1", 1, 1)):
        uid = instance_uid(ids[key])
        assert uid is not None
        check_reread_matches_full_read(graph, {"azure": config}, "azure", reader, ids[key], uid, disks, ips)
    gone = ids["jump"].rsplit("/", 1)[0] + "/no-such-vm"
    check_unknown_vm_is_not_found(graph, reader, gone)
