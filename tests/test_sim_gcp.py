"""The Compute Engine simulator, read through the real google-cloud-compute SDK (REST) and raw HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1

from graphinv.sim.gcp import GcpSim
from graphinv.sim.landscape import Landscape, parse_landscape
from tests.support.gcp_landscapes import DENIED, OTHER, PROJECT, THROTTLED, landscape_data
from tests.support.scopes import running


@pytest.fixture
def landscape() -> Landscape:
    return parse_landscape(landscape_data())


@pytest.fixture
def sim(landscape: Landscape, tmp_path: Path) -> Iterator[GcpSim]:
    with running(GcpSim(landscape, tmp_path)) as server:
        yield server


def client_kwargs(sim: GcpSim) -> dict[str, Any]:
    return {"transport": "rest", "credentials": AnonymousCredentials(),
            "client_options": ClientOptions(api_endpoint=sim.url)}


def all_instances(sim: GcpSim, project: str, page: int | None = None) -> list[tuple[str, compute_v1.Instance]]:
    client = compute_v1.InstancesClient(**client_kwargs(sim))
    request = compute_v1.AggregatedListInstancesRequest(project=project)
    if page:
        request.max_results = page
    return [(scope, inst) for scope, scoped in client.aggregated_list(request=request) for inst in scoped.instances]


def test_instances_read_back_as_the_landscape_says(sim: GcpSim, landscape: Landscape) -> None:
    got = {inst.name: (scope, inst) for scope, inst in all_instances(sim, PROJECT)}
    account = next(a for a in landscape.accounts if a.id == PROJECT)
    expected = [i for r in account.regions for i in r.instances if i.state != "terminated"]
    assert sorted(got) == sorted(i.name for i in expected)
    assert "deleted-vm" not in got  # a deleted GCE VM vanishes

    scope, node = got["shoot--dev--app-worker-z1-aaaaa-bbbbb"]
    assert scope == "zones/europe-west1-b"  # the region's first zone by default
    assert node.zone.endswith("/zones/europe-west1-b")
    assert node.machine_type.endswith("/machineTypes/n2-standard-4")
    assert node.status == "RUNNING"
    assert dict(node.labels) == {"name": "app", "k8s-cluster-name": "shoot--dev--app"}
    assert list(node.tags.items) == ["shoot--dev--app", "kubernetes-io-cluster-shoot--dev--app",
                                     "kubernetes-io-role-node"]
    assert len(str(node.id)) == 19  # uint64 ids, 19 digits like the real ones
    assert node.self_link.endswith(f"projects/{PROJECT}/zones/europe-west1-b/instances/{node.name}")
    boot = [d for d in node.disks if d.boot]
    assert len(boot) == 1 and boot[0].source.endswith(f"/zones/europe-west1-b/disks/{node.name}")
    assert [d.source.rsplit("/", 1)[1] for d in node.disks if not d.boot] == ["node-a-data"]
    # A reserved address attached to the VM is its NAT IP.
    (reserved,) = [a.address for a in _addresses(sim, PROJECT) if a.name == "node-a-ip"]
    assert [ac.nat_i_p for ac in node.network_interfaces[0].access_configs] == [reserved]

    assert got["shoot--dev--app-worker-z2-ccccc-ddddd"][1].status == "PROVISIONING"
    assert [d.source.rsplit("/", 1)[1] for d in got["shoot--dev--app-worker-z2-ccccc-ddddd"][1].disks] == [
        "shoot--dev--app-worker-z2-ccccc-ddddd", "extra"]
    stray = got["stray-vm"][1]
    assert stray.status == "TERMINATED" and dict(stray.labels) == {"team": "x"}
    assert not stray.tags.items
    assert len(stray.network_interfaces[0].access_configs) == 1
    bastion = got["shoot--dev--app-cli-1234-bastion-0a1b2"][1]
    assert list(bastion.tags.items) == [bastion.name] and not bastion.labels
    assert got["us-vm"][0] == "zones/us-central1-a"


def _addresses(sim: GcpSim, project: str) -> list[compute_v1.Address]:
    regional = compute_v1.AddressesClient(**client_kwargs(sim))
    glob = compute_v1.GlobalAddressesClient(**client_kwargs(sim))
    out = [a for _s, scoped in regional.aggregated_list(project=project) for a in scoped.addresses]
    return out + list(glob.list(project=project))


def test_disks_and_addresses_are_attached_to_the_right_instance(sim: GcpSim) -> None:
    client = compute_v1.DisksClient(**client_kwargs(sim))
    disks = {d.name: (scope, d) for scope, scoped in client.aggregated_list(project=PROJECT) for d in scoped.disks}
    node_a = "shoot--dev--app-worker-z1-aaaaa-bbbbb"
    node_b = "shoot--dev--app-worker-z2-ccccc-ddddd"
    assert set(disks) == {node_a, "node-a-data", node_b, "extra", "stray-vm", "us-vm",
                          "shoot--dev--app-cli-1234-bastion-0a1b2", "pv-shoot--dev--app-0001", "shared",
                          "left-behind"}  # the deleted VM's auto-delete boot disk went with it
    assert [u.rsplit("/", 1)[1] for u in disks["node-a-data"][1].users] == [node_a]
    assert [u.rsplit("/", 1)[1] for u in disks["extra"][1].users] == [node_b]
    assert disks["extra"][1].zone.endswith("/zones/europe-west1-c")  # follows its instance
    assert disks["extra"][1].type_.endswith("/diskTypes/pd-ssd") and disks["extra"][1].size_gb == 30
    assert disks[node_a][1].source_image and not disks["node-a-data"][1].source_image
    assert dict(disks[node_a][1].labels)["k8s-cluster-name"] == "shoot--dev--app"
    pv = disks["pv-shoot--dev--app-0001"][1]
    assert not pv.users and dict(pv.labels) == {"name": "app", "k8s-cluster-name": "shoot--dev--app"}
    left = disks["left-behind"][1]
    assert not left.users and left.last_detach_timestamp and left.last_attach_timestamp
    scope, shared = disks["shared"]
    assert scope == "regions/europe-west1" and shared.region.endswith("/regions/europe-west1")
    assert not shared.zone and len(shared.replica_zones) == 2

    addresses = {a.name: a for a in _addresses(sim, PROJECT)}
    assert set(addresses) == {"node-a-ip", "unused-ip", "lb-ip", "of-deleted-ip", "global-ip"}
    assert addresses["node-a-ip"].status == "IN_USE"
    assert [u.rsplit("/", 1)[1] for u in addresses["node-a-ip"].users] == [node_a]
    assert addresses["unused-ip"].status == "RESERVED" and addresses["unused-ip"].address == "35.1.2.3"
    assert addresses["lb-ip"].users[0].endswith("/regions/europe-west1/forwardingRules/a1b2c3-rule")
    assert addresses["of-deleted-ip"].status == "RESERVED" and not addresses["of-deleted-ip"].users
    assert not addresses["global-ip"].region and "/global/addresses/" in addresses["global-ip"].self_link
    assert all(a.address_type == "EXTERNAL" for a in addresses.values())


def test_paging_across_page_boundaries(sim: GcpSim) -> None:
    whole = [(s, i.name) for s, i in all_instances(sim, OTHER)]
    before = len(sim.requests)
    paged = [(s, i.name) for s, i in all_instances(sim, OTHER, page=3)]
    assert paged == whole and len(whole) == 7
    log = sim.requests[before:]
    assert len(log) == 3  # 3 + 3 + 1
    assert [e.query.get("maxResults") for e in log] == [["3"]] * 3
    assert "pageToken" not in log[0].query and all("pageToken" in e.query for e in log[1:])


def test_raw_body_shape(sim: GcpSim) -> None:
    url = f"{sim.url}/compute/v1/projects/{PROJECT}/aggregated/instances"
    first = httpx.get(url, params={"maxResults": 2}).json()
    assert first["kind"] == "compute#instanceAggregatedList"
    assert first["id"] == f"projects/{PROJECT}/aggregated/instances"
    assert first["selfLink"] == f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/aggregated/instances"
    warning = first["items"]["zones/europe-west1-d"]["warning"]
    assert warning["code"] == "NO_RESULTS_ON_PAGE"
    assert warning["data"] == [{"key": "scope", "value": "zones/europe-west1-d"}]
    assert sum(len(v.get("instances", [])) for v in first["items"].values()) == 2
    token = first["nextPageToken"]
    rest: list[str] = []
    while token:
        page = httpx.get(url, params={"maxResults": 2, "pageToken": token}).json()
        rest += [i["name"] for v in page["items"].values() for i in v.get("instances", [])]
        assert not any("warning" in v for v in page["items"].values())
        token = page.get("nextPageToken")
    assert len(rest) == 3
    assert httpx.get(url, params={"pageToken": "bogus"}).status_code == 400
    assert httpx.get(url, params={"maxResults": 501}).status_code == 400
    missing = httpx.get(f"{sim.url}/compute/v1/projects/nope/aggregated/disks")
    assert missing.status_code == 404 and missing.json()["error"]["errors"][0]["reason"] == "notFound"
    empty_global = httpx.get(f"{sim.url}/compute/v1/projects/{OTHER}/global/addresses").json()
    assert empty_global["kind"] == "compute#addressList" and "items" not in empty_global


def test_forbidden_project_answers_403_and_others_still_work(sim: GcpSim) -> None:
    with pytest.raises(gexc.Forbidden) as info:
        all_instances(sim, DENIED)
    assert info.value.errors[0]["reason"] == "forbidden"
    assert len(all_instances(sim, OTHER)) == 7
    raw = httpx.get(f"{sim.url}/compute/v1/projects/{DENIED}/aggregated/disks")
    assert raw.status_code == 403 and raw.json()["error"]["code"] == 403


def test_throttled_project_answers_429_first(sim: GcpSim) -> None:
    # The SDK's default retry does not cover 429, which is why the collector passes its own.
    with pytest.raises(gexc.TooManyRequests):
        all_instances(sim, THROTTLED)
    second = httpx.get(f"{sim.url}/compute/v1/projects/{THROTTLED}/aggregated/instances")
    assert second.status_code == 429 and second.headers["Retry-After"] in ("0", "1")
    assert second.json()["error"]["errors"][0]["reason"] == "rateLimitExceeded"
    assert [i.name for _s, i in all_instances(sim, THROTTLED)] == ["t1"]
    assert sim.throttled_count(THROTTLED) == 3
    assert [e.status for e in sim.requests if THROTTLED in e.path] == [429, 429, 200]


def test_provider_ids_and_source_config(sim: GcpSim) -> None:
    ids = sim.provider_ids()
    assert ids["node-b"] == f"gce:///{PROJECT}/europe-west1-c/shoot--dev--app-worker-z2-ccccc-ddddd"
    assert ids["deleted"] == f"gce:///{PROJECT}/europe-west1-b/deleted-vm"  # a Machine may still point at it
    assert "secret" in ids and not any(k.startswith("aws") for k in ids)
    config = sim.source_config()
    assert config == {"api_endpoint": sim.url, "credentials": "anonymous",
                      "projects": [PROJECT, OTHER, DENIED, THROTTLED]}


def test_ids_and_addresses_are_deterministic(tmp_path: Path) -> None:
    def snapshot(seed: int) -> list[tuple[str, int, list[str]]]:
        sim = GcpSim(parse_landscape(landscape_data(seed)), tmp_path)
        sim.start()
        try:
            return [(i.name, i.id, [ac.nat_i_p for n in i.network_interfaces for ac in n.access_configs])
                    for _s, i in all_instances(sim, PROJECT)]
        finally:
            sim.stop()

    assert snapshot(7) == snapshot(7)
    assert [x[1] for x in snapshot(7)] != [x[1] for x in snapshot(8)]
