"""Hardware capabilities: machine types from the clouds' catalogues and Gardener's CloudProfiles,
the capacity answers built on them, and the drift findings between the two sources.

The upstream samples (EC2 DescribeInstanceTypes, a CloudProfile) are served by the simulator and
read back through the real SDKs (boto3, the kubernetes client); the capacity figures of a
collected landscape are checked against sums computed from the landscape file alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from collectors.aws import plan as aws_plan
from collectors.azure import plan as azure_plan
from collectors.gardener import plan as gardener_plan
from collectors.openstack import plan as openstack_plan
from graphinv.alerts.catalog import shipped_alerts
from graphinv.api import create_app
from graphinv.api.settings import ApiSettings
from graphinv.api.threaded import serving
from graphinv.capacity import capacity, instance_verdicts, totals
from graphinv.commands.collect import collect_into
from graphinv.config import Neo4jConnection, settings_from_mapping
from graphinv.db import Graph
from graphinv.orphans import OrphanFilter, orphan_report
from graphinv.queries import load_query
from graphinv.sim.aws import AwsSim
from graphinv.sim.azure import AzureSim
from graphinv.sim.gardener_api import CLOUDPROFILES, GARDEN, GardenerSim
from graphinv.sim.landscape import Landscape, Seed, parse_landscape
from graphinv.sim.openstack import OpenStackSim
from graphinv.sim.runtime import SimulatedLandscape
from tests.support.cli import run_graphinv
from tests.support.graph import wipe
from tests.support.hardware_landscapes import (
    DRIFT_PROJECT,
    DRIFT_REGION,
    DRIFT_SHOOT,
    GPU_POOL,
    OLD_POOL,
    STD_POOL,
    UNKNOWN_TYPE,
    add_drift_cases,
    aws_only,
    expected_capacity_by_project,
    load_documents,
)
from tests.support.inventory_landscapes import write_config
from tests.support.scopes import fetch_each

REGION = "eu-west-1"


# -- upstream samples through the real SDKs ---------------------------------------------------------
def test_ec2_instance_types_sample_through_boto3(shared_samples: Path, tmp_path: Path) -> None:
    sample = json.loads((shared_samples / "aws" / "awscli-example-ec2-describe-instance-types.json").read_text())
    items: list[dict[str, Any]] = sample["InstanceTypes"]
    landscape = parse_landscape({"accounts": [{"provider": "aws", "id": "111111111111",
                                               "regions": [{"name": REGION}]}]})
    with AwsSim(landscape, tmp_path) as sim:
        sim.world.instance_types[REGION] = items  # served as EC2 writes it, element names from botocore's model
        tasks = [t for t in aws_plan(sim.source_config()) if t.scope.kind == "MachineType"]
        done, failed = fetch_each(tasks)
    assert not failed and len(tasks) == 1
    (records,) = done.values()
    assert [r.name for r in records] == [i["InstanceType"] for i in items]
    for record, item in zip(records, items, strict=True):
        gpus = (item.get("GpuInfo") or {}).get("Gpus") or []
        arches = item["ProcessorInfo"]["SupportedArchitectures"]
        assert record.uid == f"aws:{REGION}:{item['InstanceType']}"
        assert (record.provider, record.region) == ("aws", REGION)
        assert record.vcpus == item["VCpuInfo"]["DefaultVCpus"]
        assert record.memory_mib == item["MemoryInfo"]["SizeInMiB"]
        assert record.gpu_count == sum(g["Count"] for g in gpus)
        assert record.architecture == ("amd64" if "x86_64" in arches else "arm64")
        assert record.usable is True and record.cloud_profile is None


def test_cloudprofile_sample_through_the_kubernetes_client(shared_samples: Path, tmp_path: Path) -> None:
    docs = load_documents((shared_samples / "gardener" / "30-cloudprofile.yaml").read_text())
    profile = next(d for d in docs if isinstance(d, dict) and d.get("kind") == "CloudProfile")
    sim = GardenerSim(Landscape(seeds=[Seed("s", "aws", REGION)]), tmp_path)
    sim.api.apply(GARDEN, CLOUDPROFILES, profile, stamp=False)
    sim.start()
    try:
        tasks = [t for t in gardener_plan(sim.source_config()) if t.scope.kind == "CloudProfile"]
        done, failed = fetch_each(tasks)
    finally:
        sim.stop()
    assert not failed and len(tasks) == 1
    (records,) = done.values()
    name = profile["metadata"]["name"]
    spec = profile["spec"]
    (cp,) = [r for r in records if r.label == "CloudProfile"]
    assert (cp.uid, cp.provider) == (name, spec["type"])
    assert cp.regions == [r["name"] for r in spec["regions"]]
    assert cp.volume_types == [v["name"] for v in spec.get("volumeTypes", [])]
    types = {r.name: r for r in records if r.label == "MachineType"}
    assert set(types) == {m["name"] for m in spec["machineTypes"]}
    for entry in spec["machineTypes"]:
        record = types[entry["name"]]
        assert record.uid == f"cloudprofile:{name}:{entry['name']}" and record.cloud_profile == name
        assert record.vcpus == int(entry["cpu"])
        assert record.gpu_count == int(entry.get("gpu", 0))
        memory = str(entry["memory"])
        assert memory.endswith("Gi")  # what the sample uses; 1 Gi = 1024 MiB
        assert record.memory_mib == int(memory[:-2]) * 1024
        assert record.usable is entry.get("usable", True)


def test_nova_flavors_sample_through_openstacksdk(shared_samples: Path, tmp_path: Path) -> None:
    flavors = json.loads((shared_samples / "openstack" / "nova-flavors-detail-resp.v2.75.json").read_text())["flavors"]
    landscape = parse_landscape({"accounts": [{"provider": "openstack", "id": "p-sample",
                                               "regions": [{"name": "eu-de-1"}]}]})
    sim = OpenStackSim(landscape, tmp_path)
    sim.flavor_overrides["eu-de-1"] = flavors  # served as Nova wrote them
    sim.start()
    try:
        tasks = [t for t in openstack_plan(sim.source_config()) if t.scope.kind == "MachineType"]
        done, failed = fetch_each(tasks)
    finally:
        sim.stop()
    assert not failed and len(tasks) == 1
    (records,) = done.values()
    assert [(r.uid, r.vcpus, r.memory_mib) for r in records] == [
        (f"openstack:eu-de-1:{f['name']}", f["vcpus"], f["ram"]) for f in flavors]
    assert all(r.gpu_count == 0 for r in records)  # no flavor of the sample asks for a GPU


def test_resource_skus_sample_through_the_azure_sdk(shared_samples: Path, tmp_path: Path) -> None:
    sample = json.loads((shared_samples / "azure" / "resourceskus-list-for-a-region.json").read_text())
    skus: list[dict[str, Any]] = sample["responses"]["200"]["body"]["value"]
    sub = "00000000-0000-4000-8000-000000000001"
    landscape = parse_landscape({"accounts": [{"provider": "azure", "id": sub, "regions": [{"name": "westus"}]}]})
    sim = AzureSim(landscape, tmp_path)
    sim.subscriptions[sub].skus = skus  # served as ARM wrote them
    sim.start()
    try:
        tasks = [t for t in azure_plan(sim.source_config()) if t.scope.kind == "MachineType"]
        done, failed = fetch_each(tasks)
    finally:
        sim.stop()
    assert not failed and len(tasks) == 1
    (records,) = done.values()

    def capability(sku: dict[str, Any], name: str) -> str | None:
        return next((c["value"] for c in sku.get("capabilities", []) if c["name"] == name), None)

    expected = {f"azure:{loc.lower()}:{sku['name']}": sku for sku in skus if sku["resourceType"] == "virtualMachines"
                for loc in sku["locations"]}
    assert expected and {r.uid for r in records} == set(expected)
    for record in records:
        sku = expected[record.uid]
        assert record.vcpus == int(capability(sku, "vCPUs") or 0)
        assert record.memory_mib == round(float(capability(sku, "MemoryGB") or 0) * 1024)
        assert record.gpu_count == int(capability(sku, "GPUs") or 0)


# -- a collected landscape ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def collected(session_graph: Graph, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Graph, Landscape]]:
    landscape = aws_only()
    add_drift_cases(landscape)
    wipe(session_graph)
    with SimulatedLandscape(landscape, tmp_path_factory.mktemp("hardware")) as sim:
        summary = collect_into(session_graph, settings_from_mapping(sim.config()), [], show_progress=False)
    forbidden = {f"gardener:{s.name}:global:Machine" for s in landscape.seeds if s.access == "forbidden"}
    assert [r.scope.key for r in summary.failed if r.scope.key not in forbidden] == []
    yield session_graph, landscape
    wipe(session_graph)


def test_capacity_by_project_equals_the_landscape_file(collected: tuple[Graph, Landscape]) -> None:
    graph, landscape = collected
    expected = expected_capacity_by_project(landscape)
    rows = {r["group"]: r for r in capacity(graph, "project")}
    assert set(rows) == set(expected)
    for project, want in expected.items():
        got = rows[project]
        assert {k: got[k] for k in want} == want, project
    total = totals(rows.values())
    assert total["vcpus"] == sum(w["vcpus"] for w in expected.values()) > 0
    assert total["vms"] == sum(w["vms"] for w in expected.values())


def test_gpu_counts_per_project(collected: tuple[Graph, Landscape]) -> None:
    graph, landscape = collected
    expected = {p: w for p, w in expected_capacity_by_project(landscape).items() if w["gpus"]}
    assert DRIFT_PROJECT in expected  # the GPU pool of the drift shoot, at least
    rows = {r["group"]: r for r in capacity(graph, "project", gpu_only=True)}
    assert {p: r["gpus"] for p, r in rows.items()} == {p: w["gpus"] for p, w in expected.items()}
    assert {p: r["gpus_by_model"] for p, r in rows.items()} == {p: w["gpus_by_model"] for p, w in expected.items()}
    # Only GPU VMs are counted: every VM of a --gpu-only row has GPUs.
    assert all(r["vms"] <= r["gpus"] for r in rows.values())


def test_orphan_and_unverified_share(collected: tuple[Graph, Landscape]) -> None:
    graph, _ = collected
    orphans, unverified = instance_verdicts(graph)
    assert orphans  # the generator plants orphans, and the drift shoot has one
    rows = capacity(graph, "provider", orphans=orphans, unverified=unverified)
    (aws,) = rows
    running = {r["uid"] for r in graph.run_read("MATCH (i:Instance {status: 'running'}) RETURN i.uid AS uid")}
    assert aws["orphan_vms"] == len(set(orphans) & running)
    assert aws["unverified_vms"] == len(set(unverified) & running)
    hardware = {r["uid"]: r["vcpus"] for r in capacity_rows_per_vm(graph)}
    assert aws["orphan_vcpus"] == sum(hardware.get(u) or 0 for u in set(orphans) & running)
    assert 0 < aws["wasted_vcpu_share"] < 1


def capacity_rows_per_vm(graph: Graph) -> list[dict[str, Any]]:
    """Each running VM's vCPUs from its OF_TYPE edge or its CloudProfile entry, read plainly."""
    return graph.run_read(
        "MATCH (i:Instance {status: 'running'}) OPTIONAL MATCH (i)-[:OF_TYPE]->(c:MachineType) "
        "OPTIONAL MATCH (p:MachineType {uid: 'cloudprofile:aws:' + i.instance_type}) "
        "RETURN i.uid AS uid, coalesce(c.vcpus, p.vcpus) AS vcpus")


def test_instances_link_to_their_type_and_shoots_to_their_profile(collected: tuple[Graph, Landscape]) -> None:
    graph, landscape = collected
    rows = graph.run_read("MATCH (i:Instance) OPTIONAL MATCH (i)-[:OF_TYPE]->(m:MachineType) "
                          "RETURN i.region AS region, i.instance_type AS type, m.uid AS type_uid")
    offered = {(t.name, r) for t in landscape.machine_types for r in ("eu-west-1", "eu-central-1", "us-east-1")
               if r not in t.absent_in}
    for row in rows:
        want = f"aws:{row['region']}:{row['type']}" if (row["type"], row["region"]) in offered else None
        assert row["type_uid"] == want, row
    linked = graph.run_read("MATCH (s:Shoot) OPTIONAL MATCH (s)-[:USES_PROFILE]->(c:CloudProfile) "
                            "RETURN s.uid AS shoot, c.uid AS profile")
    assert linked and all(r["profile"] == "aws" for r in linked)
    offers = graph.run_read("MATCH (:CloudProfile {uid: 'aws'})-[:OFFERS]->(m:MachineType) RETURN count(m) AS n")
    assert offers[0]["n"] == sum(1 for t in landscape.machine_types if t.in_profile)


def test_a_type_missing_from_the_regions_catalogue(collected: tuple[Graph, Landscape]) -> None:
    graph, landscape = collected
    gpu_type = next(t.name for t in landscape.machine_types if DRIFT_REGION in t.absent_in)
    pools = load_query("pool_type_drift").run(graph, provider=None, project=DRIFT_PROJECT)
    missing = [r for r in pools if r["pool"] == GPU_POOL]
    assert [r["finding"] for r in missing] == [f"not offered by the cloud in region {DRIFT_REGION}"]
    assert missing[0]["machine_type"] == gpu_type and missing[0]["cloud_vcpus"] is None
    profile = load_query("profile_type_drift").run(graph, provider="aws")
    assert {(r["machine_type"], r["region"]) for r in profile
            if r["finding"].startswith("usable in the profile")} == {(gpu_type, DRIFT_REGION)}
    unlinked = graph.run_read("MATCH (i:Instance {instance_type: $t, region: $r}) "
                              "RETURN count { (i)-[:OF_TYPE]->() } AS edges", {"t": gpu_type, "r": DRIFT_REGION})
    assert unlinked and all(r["edges"] == 0 for r in unlinked)


def test_cloudprofile_and_cloud_disagree(collected: tuple[Graph, Landscape]) -> None:
    graph, landscape = collected
    planted = next(t for t in landscape.machine_types if t.profile_vcpus)
    pools = {(r["pool"], r["finding"]): r for r in load_query("pool_type_drift").run(
        graph, provider="aws", project=DRIFT_PROJECT)}
    differ = pools[(STD_POOL, "vCPUs differ")]
    assert (differ["machine_type"], differ["profile_vcpus"], differ["cloud_vcpus"]) == (
        planted.name, planted.profile_vcpus, planted.vcpus)
    assert (OLD_POOL, "not usable in CloudProfile aws") in pools
    profile = [r for r in load_query("profile_type_drift").run(graph, provider=None) if r["finding"] == "vCPUs differ"]
    assert {r["machine_type"] for r in profile} == {planted.name}
    assert {(r["profile_vcpus"], r["cloud_vcpus"]) for r in profile} == {(planted.profile_vcpus, planted.vcpus)}


def test_instance_types_unknown_to_both_sources(collected: tuple[Graph, Landscape]) -> None:
    graph, _ = collected
    rows = load_query("unknown_instance_types").run(graph, provider=None, account=None)
    assert [(r["instance_type"], r["shoot"]) for r in rows] == [
        (UNKNOWN_TYPE, f"shoot--{DRIFT_PROJECT}--{DRIFT_SHOOT}")]


def test_orphan_rows_carry_their_hardware(collected: tuple[Graph, Landscape]) -> None:
    graph, _ = collected
    rows = [r for r in orphan_report(graph, OrphanFilter()) if r["kind"] == "instance"]
    assert rows
    unknown = [r for r in rows if r["instance_type"] == UNKNOWN_TYPE]
    assert unknown and unknown[0]["vcpus"] is None
    known = [r for r in rows if r["instance_type"] != UNKNOWN_TYPE]
    assert known and all(isinstance(r["vcpus"], int) and r["memory_mib"] > 0 for r in known)


def test_capacity_command_json(collected: tuple[Graph, Landscape], neo4j_connection: Neo4jConnection,
                               tmp_path: Path) -> None:
    _, landscape = collected
    config = write_config(tmp_path / "graphinv.yaml", neo4j_connection)
    done = run_graphinv("--config", str(config), "capacity", "--by", "project", "--gpu-only", "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert rows[-1]["group"] == "total"
    expected = expected_capacity_by_project(landscape)
    assert rows[-1]["gpus"] == sum(w["gpus"] for w in expected.values())
    bad = run_graphinv("--config", str(config), "capacity", "--by", "zone")
    assert bad.returncode == 2 and "--by must be one of" in bad.stderr


def test_graphql_capacity_and_machine_type(collected: tuple[Graph, Landscape]) -> None:
    graph, landscape = collected
    query = """
      query ($name: String!) { project(name: $name) {
          capacity { vms vcpus memoryMib gpus unknownVms gpusByModel { model count } }
          shoots { uid capacity { vms vcpus gpus }
                   seed { uid capacity { vms } }
                   ownedInstances(first: 50) { uid instanceType region machineType { name vcpus gpuCount } } } } }
    """
    with serving(create_app(graph, ApiSettings())) as base:
        response = httpx.post(f"{base}/graphql", json={"query": query, "variables": {"name": DRIFT_PROJECT}},
                              timeout=60)
    body = response.json()
    assert not body.get("errors"), body["errors"]
    project = body["data"]["project"]
    want = expected_capacity_by_project(landscape)[DRIFT_PROJECT]
    got = project["capacity"]
    assert (got["vms"], got["vcpus"], got["memoryMib"], got["gpus"], got["unknownVms"]) == (
        want["vms"], want["vcpus"], want["memory_mib"], want["gpus"], want["unknown_vms"])
    assert {g["model"]: g["count"] for g in got["gpusByModel"]} == want["gpus_by_model"]
    (shoot,) = project["shoots"]
    assert shoot["capacity"]["vcpus"] == want["vcpus"]
    assert shoot["seed"]["capacity"]["vms"] >= want["vms"]
    types = {vm["instanceType"]: vm["machineType"] for vm in shoot["ownedInstances"]}
    assert types["m5.large"] == {"name": "m5.large", "vcpus": 2, "gpuCount": 0}
    assert types[UNKNOWN_TYPE] is None
    assert types[next(t.name for t in landscape.machine_types if DRIFT_REGION in t.absent_in)] is None


def test_drift_alerts_report_the_same_findings(collected: tuple[Graph, Landscape]) -> None:
    graph, _ = collected
    alerts = shipped_alerts()
    for name, params in (("pool_type_drift", {"provider": None, "project": None}),
                         ("profile_type_drift", {"provider": None}),
                         ("unknown_instance_types", {"provider": None, "account": None})):
        alert = alerts[name]
        assert alert.schedule.after_collect
        found = graph.run_read(alert.text, dict(alert.params))
        assert found and found == load_query(name).run(graph, **params), name
