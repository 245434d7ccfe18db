"""The simulated garden and seeds, spoken to by the real `kubernetes` client over HTTP."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from graphinv.sim.gardener_api import GARDEN, SHOOTS, GardenerAPIOptions, GardenerSim
from graphinv.sim.landscape import Landscape, Machine, Project, Seed, Shoot, Worker

CORE = ("core.gardener.cloud", "v1beta1")
MCM = ("machine.sapcloud.io", "v1alpha1")
VIEWER_PATH = "/apis/core.gardener.cloud/v1beta1/namespaces/garden/shoots/{name}/viewerkubeconfig"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def small_landscape() -> Landscape:
    projects = [Project("core"), Project("ml"), Project("web")]
    seeds = [Seed("aws-eu1", "aws", "eu-west-1"), Seed("gcp-eu1", "gcp", "europe-west1", access="expired"),
             Seed("locked", "aws", "eu-west-1", access="forbidden")]
    shoots = []
    for p_index, project in enumerate(projects):
        for s_index, name in enumerate(["prod", "dev", "stage"]):
            seed = "aws-eu1" if (p_index + s_index) % 2 == 0 else "gcp-eu1"
            tech = f"shoot--{project.name}--{name}"
            machines = [Machine(f"{tech}-worker-z1-abcd{m}-efgh{m}", provider_id=f"aws:///eu-west-1a/i-0{p_index}{s_index}{m}ab12cd34ef")
                        for m in range(3)]
            shoots.append(Shoot(name, project.name, seed, "aws", "eu-west-1", "111111111111",
                                workers=[Worker("worker", "m5.large", 2, 4, ["eu-west-1a"])], machines=machines))
    shoots.append(Shoot("hidden", "web", "locked", "aws", "eu-west-1", "111111111111",
                        machines=[Machine("shoot--web--hidden-worker-z1-aaaaa-bbbbb")]))
    landscape = Landscape(projects=projects, seeds=seeds, shoots=shoots)
    landscape.validate()
    return landscape


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(tmp_path: Path, clock: FakeClock) -> Iterator[GardenerSim]:
    simulator = GardenerSim(small_landscape(), tmp_path, options=GardenerAPIOptions(forbidden_namespaces={"garden-ml"}),
                            clock=clock)
    simulator.start()
    yield simulator
    simulator.stop()


def j(value: object) -> dict[str, Any]:
    """The client returns untyped JSON for custom objects."""
    return cast(dict[str, Any], value)


def garden_api(sim: GardenerSim) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(config.new_client_from_config(config_file=str(sim.garden_kubeconfig)))


def seed_api(sim: GardenerSim, seed: str) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(config.new_client_from_config(config_file=str(sim.seed_kubeconfigs[seed])))


def token_api(server: str, token: str | None) -> client.CustomObjectsApi:
    configuration = client.Configuration()
    configuration.host = server
    if token is not None:
        configuration.api_key = {"authorization": f"Bearer {token}"}
    return client.CustomObjectsApi(client.ApiClient(configuration))


def test_list_pages_with_limit_and_continue(sim: GardenerSim) -> None:
    api = garden_api(sim)
    names: list[str] = []
    pages = 0
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"limit": 4}
        if token:
            kwargs["_continue"] = token
        body = j(api.list_cluster_custom_object(*CORE, "shoots", **kwargs))
        pages += 1
        assert body["kind"] == "ShootList"
        assert len(body["items"]) <= 4
        names += [f"{o['metadata']['namespace']}/{o['metadata']['name']}" for o in body["items"]]
        token = body["metadata"].get("continue")
        if not token:
            break
    expected = {f"garden-{s.project}/{s.name}" for s in small_landscape().shoots}
    assert pages == 3  # 10 shoots in pages of 4
    assert len(names) == len(set(names)) == len(expected)
    assert set(names) == expected


def test_objects_are_shaped_like_gardener_ones(sim: GardenerSim) -> None:
    api = garden_api(sim)
    shoot = j(api.get_namespaced_custom_object(*CORE, "garden-core", "shoots", "prod"))
    assert shoot["apiVersion"] == "core.gardener.cloud/v1beta1" and shoot["kind"] == "Shoot"
    assert shoot["status"]["technicalID"] == "shoot--core--prod"
    assert shoot["spec"]["seedName"] == shoot["status"]["seedName"] == "aws-eu1"
    assert shoot["metadata"]["annotations"]["gardener.cloud/created-by"] == "owner@example.com"
    assert shoot["metadata"]["resourceVersion"]
    machines = j(seed_api(sim, "aws-eu1").list_namespaced_custom_object(*MCM, "shoot--core--prod", "machines"))
    ids = sorted(m["spec"]["providerID"] for m in machines["items"])
    assert ids == sorted(m.provider_id for s in small_landscape().shoots if s.name == "prod" and s.project == "core"
                         for m in s.machines if m.provider_id)
    assert all(m["metadata"]["labels"]["node"] == m["metadata"]["name"] for m in machines["items"])


def test_namespace_and_page_through_a_seed(sim: GardenerSim) -> None:
    api = seed_api(sim, "aws-eu1")
    first = j(api.list_cluster_custom_object(*MCM, "machines", limit=2))
    assert len(first["items"]) == 2 and first["metadata"]["continue"]
    rest = j(api.list_cluster_custom_object(*MCM, "machines", limit=100, _continue=first["metadata"]["continue"]))
    on_seed = [m for s in small_landscape().shoots if s.seed == "aws-eu1" for m in s.machines]
    assert len(first["items"]) + len(rest["items"]) == len(on_seed)
    assert "continue" not in rest["metadata"]


def test_401_without_token_with_a_wrong_one_and_across_clusters(sim: GardenerSim) -> None:
    for api in (token_api(sim.url, None), token_api(sim.url, "not-the-token"),
                token_api(f"{sim.url}/seeds/aws-eu1", sim.api.garden_token)):
        path = ("machines" if "/seeds/" in api.api_client.configuration.host else "shoots")
        group = MCM if path == "machines" else CORE
        with pytest.raises(ApiException) as caught:
            j(api.list_cluster_custom_object(*group, path))
        assert caught.value.status == 401


def test_403_for_a_forbidden_seed_and_namespace(sim: GardenerSim) -> None:
    with pytest.raises(ApiException) as caught:
        j(seed_api(sim, "locked").list_cluster_custom_object(*MCM, "machines"))
    assert caught.value.status == 403
    api = garden_api(sim)
    with pytest.raises(ApiException) as caught:
        j(api.list_namespaced_custom_object(*CORE, "garden-ml", "shoots"))
    assert caught.value.status == 403
    assert len(j(api.list_namespaced_custom_object(*CORE, "garden-web", "shoots"))["items"]) == 4


def test_cluster_wide_lists_can_be_forbidden(tmp_path: Path) -> None:
    options = GardenerAPIOptions(garden_cluster_wide=False, seed_cluster_wide=False)
    simulator = GardenerSim(small_landscape(), tmp_path, options=options)
    simulator.start()
    try:
        with pytest.raises(ApiException) as caught:
            j(garden_api(simulator).list_cluster_custom_object(*CORE, "shoots"))
        assert caught.value.status == 403
        with pytest.raises(ApiException) as caught:
            j(seed_api(simulator, "aws-eu1").list_cluster_custom_object(*MCM, "machines"))
        assert caught.value.status == 403
        assert j(garden_api(simulator).list_cluster_custom_object(*CORE, "projects"))["items"]  # cluster-scoped kind
        assert j(seed_api(simulator, "aws-eu1").list_namespaced_custom_object(*MCM, "shoot--core--prod", "machines"))
    finally:
        simulator.stop()


def test_watch_streams_current_shoots_then_ends(sim: GardenerSim) -> None:
    api = garden_api(sim)
    events = list(watch.Watch().stream(api.list_namespaced_custom_object, *CORE, "garden-core", "shoots",
                                       timeout_seconds=1))
    assert [e["type"] for e in events] == ["ADDED"] * 3
    assert sorted(e["object"]["metadata"]["name"] for e in events) == ["dev", "prod", "stage"]


def test_watch_from_a_resource_version_sees_later_changes(sim: GardenerSim) -> None:
    api = garden_api(sim)
    listed = j(api.list_namespaced_custom_object(*CORE, "garden-core", "shoots"))
    version = listed["metadata"]["resourceVersion"]
    changed = dict(listed["items"][0])
    changed["spec"] = {**changed["spec"], "hibernation": {"enabled": True}}
    seen: list[dict[str, Any]] = []

    def follow() -> None:
        since = version
        for _attempt in range(5):  # each watch call ends after sending what was due; resume from there
            for event in watch.Watch().stream(api.list_namespaced_custom_object, *CORE, "garden-core", "shoots",
                                              resource_version=since, timeout_seconds=10):
                seen.append(event)
                since = event["object"]["metadata"]["resourceVersion"]
            if len(seen) >= 2:
                return

    watcher = threading.Thread(target=follow)
    watcher.start()
    sim.api.apply(GARDEN, SHOOTS, changed)
    sim.api.delete(GARDEN, SHOOTS, "garden-core", "stage")
    watcher.join(timeout=20)
    assert not watcher.is_alive()
    assert [e["type"] for e in seen] == ["MODIFIED", "DELETED"]
    assert seen[0]["object"]["spec"]["hibernation"]["enabled"] is True
    assert int(seen[1]["object"]["metadata"]["resourceVersion"]) > int(seen[0]["object"]["metadata"]["resourceVersion"])


def test_watch_machines_on_a_seed(sim: GardenerSim) -> None:
    api = seed_api(sim, "aws-eu1")
    events = list(watch.Watch().stream(api.list_cluster_custom_object, *MCM, "machines", timeout_seconds=1))
    on_seed = {m.name for s in small_landscape().shoots if s.seed == "aws-eu1" for m in s.machines}
    assert {e["object"]["metadata"]["name"] for e in events} == on_seed
    assert {e["type"] for e in events} == {"ADDED"}


def request_viewer(sim: GardenerSim, seed: str, seconds: int) -> dict[str, Any]:
    api_client = config.new_client_from_config(config_file=str(sim.garden_kubeconfig))
    request = api_client.param_serialize(
        method="POST", resource_path=VIEWER_PATH, path_params={"name": seed},
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body={"apiVersion": "authentication.gardener.cloud/v1alpha1", "kind": "ViewerKubeconfigRequest",
              "spec": {"expirationSeconds": seconds}}, auth_settings=["BearerToken"])
    response = api_client.call_api(*request)
    response.read()
    assert response.status == 201
    return j(api_client.response_deserialize(response, {"201": "object"}).data)


def test_viewer_kubeconfig_works_until_it_expires(sim: GardenerSim, clock: FakeClock) -> None:
    answer = request_viewer(sim, "aws-eu1", 600)
    assert answer["kind"] == "ViewerKubeconfigRequest"
    assert answer["status"]["expirationTimestamp"].endswith("Z")
    kubeconfig = yaml.safe_load(base64.b64decode(answer["status"]["kubeconfig"]))
    assert kubeconfig["clusters"][0]["cluster"]["server"].endswith("/seeds/aws-eu1")
    api = client.CustomObjectsApi(config.new_client_from_config_dict(kubeconfig))
    assert j(api.list_cluster_custom_object(*MCM, "machines"))["items"]
    clock.now += 601
    with pytest.raises(ApiException) as caught:
        j(api.list_cluster_custom_object(*MCM, "machines"))
    assert caught.value.status == 401


def test_expired_seed_hands_out_a_refused_kubeconfig_first(sim: GardenerSim) -> None:
    results = []
    for _ in range(2):
        kubeconfig = yaml.safe_load(base64.b64decode(request_viewer(sim, "gcp-eu1", 3600)["status"]["kubeconfig"]))
        api = client.CustomObjectsApi(config.new_client_from_config_dict(kubeconfig))
        try:
            results.append(len(j(api.list_cluster_custom_object(*MCM, "machines"))["items"]))
        except ApiException as exc:
            results.append(exc.status)
    on_seed = sum(len(s.machines) for s in small_landscape().shoots if s.seed == "gcp-eu1")
    assert results == [401, on_seed]
    assert sim.api.viewer_requests["gcp-eu1"] == 2


def test_viewer_kubeconfig_only_for_seeds(sim: GardenerSim) -> None:
    api_client = config.new_client_from_config(config_file=str(sim.garden_kubeconfig))
    request = api_client.param_serialize(
        method="POST", resource_path="/apis/core.gardener.cloud/v1beta1/namespaces/garden/shoots/nope/viewerkubeconfig",
        header_params={"Content-Type": "application/json"}, body={"spec": {}}, auth_settings=["BearerToken"])
    response = api_client.call_api(*request)
    response.read()
    assert response.status == 404


def test_discovery(sim: GardenerSim) -> None:
    api_client = config.new_client_from_config(config_file=str(sim.garden_kubeconfig))
    version = client.VersionApi(api_client).get_code()
    assert version.major == "1"
    groups = {g.name for g in client.ApisApi(api_client).get_api_versions().groups}
    assert {"core.gardener.cloud", "operations.gardener.cloud"} <= groups
    seed_groups = client.ApisApi(config.new_client_from_config(config_file=str(sim.seed_kubeconfigs["aws-eu1"])))
    assert {g.name for g in seed_groups.get_api_versions().groups} == {"machine.sapcloud.io"}


def test_kubeconfigs_are_private(sim: GardenerSim) -> None:
    assert sim.garden_kubeconfig.stat().st_mode & 0o077 == 0
    assert all(p.stat().st_mode & 0o077 == 0 for p in sim.seed_kubeconfigs.values())
