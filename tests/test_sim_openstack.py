"""The OpenStack simulator, read by plain HTTP (httpx) and by the real openstacksdk.

`openstack_landscape()` is shared with tests/test_collector_openstack.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openstack.connection
import pytest
from openstack.config import OpenStackConfig

from graphinv.sim.openstack import OpenStackSim
from tests.support.openstack_landscapes import BASTION, WORKERS, openstack_landscape, openstack_sim


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[OpenStackSim]:
    with openstack_sim(tmp_path) as server:
        yield server


def connect(sim: OpenStackSim, project: str, region: str = "RegionOne", **options: Any) -> Any:
    config = OpenStackConfig(load_yaml_config=False, load_envvars=False).get_one(
        auth_type="password", auth=sim.password_auth(project), region_name=region, **options)
    return openstack.connection.Connection(config=config)


def issue_token(sim: OpenStackSim, project: str) -> tuple[str, dict[str, Any]]:
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "graphinv-reader", "domain": {"name": "Default"}, "password": sim.password}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}},
    }}
    response = httpx.post(f"{sim.auth_url}/v3/auth/tokens", json=body)
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"], response.json()["token"]


def endpoint(token: dict[str, Any], service_type: str, region: str) -> str:
    service = next(s for s in token["catalog"] if s["type"] == service_type)
    return next(e["url"] for e in service["endpoints"] if e["region"] == region and e["interface"] == "public")


# -- Keystone -----------------------------------------------------------------------------------
def test_token_carries_project_and_a_catalog_per_region(sim: OpenStackSim) -> None:
    _token, body = issue_token(sim, "dev-eu")
    assert body["project"]["name"] == "dev-eu"
    assert body["expires_at"] > body["issued_at"]
    project_id = body["project"]["id"]
    types = {s["type"] for s in body["catalog"]}
    assert {"identity", "compute", "block-storage", "volumev3", "network"} <= types
    for region in ("RegionOne", "RegionTwo"):
        assert endpoint(body, "compute", region) == f"{sim.url}/{region}/compute/v2.1"
        assert endpoint(body, "block-storage", region) == f"{sim.url}/{region}/volume/v3/{project_id}"
        assert endpoint(body, "network", region) == f"{sim.url}/{region}/network"


def test_bad_password_unknown_project_and_app_credentials(sim: OpenStackSim) -> None:
    def post(identity: dict[str, Any], scope: dict[str, Any] | None = None) -> httpx.Response:
        auth: dict[str, Any] = {"identity": identity}
        if scope:
            auth["scope"] = scope
        return httpx.post(f"{sim.auth_url}/v3/auth/tokens", json={"auth": auth})

    wrong = {"methods": ["password"], "password": {"user": {"name": "graphinv-reader", "password": "nope"}}}
    assert post(wrong, {"project": {"name": "dev-eu"}}).status_code == 401
    right = {"methods": ["password"], "password": {"user": {"name": "graphinv-reader", "password": sim.password}}}
    assert post(right, {"project": {"name": "no-such-project"}}).status_code == 401
    unscoped = post(right)
    assert unscoped.status_code == 201 and "catalog" not in unscoped.json()["token"]

    cred = sim.application_credential_auth("ops")
    app: dict[str, Any] = {"methods": ["application_credential"], "application_credential": {
        "id": cred["application_credential_id"], "secret": cred["application_credential_secret"]}}
    answer = post(app)
    assert answer.status_code == 201 and answer.json()["token"]["project"]["name"] == "ops"
    app["application_credential"]["secret"] = "wrong"
    assert post(app).status_code == 401


def test_service_calls_need_a_token(sim: OpenStackSim) -> None:
    token, body = issue_token(sim, "dev-eu")
    url = f"{endpoint(body, 'compute', 'RegionOne')}/servers/detail"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"X-Auth-Token": "made-up"}).status_code == 401
    assert httpx.get(url, headers={"X-Auth-Token": token}).status_code == 200
    # A token of one project does not open another project's Cinder URL.
    other_token, _ = issue_token(sim, "ops")
    volumes = f"{endpoint(body, 'block-storage', 'RegionOne')}/volumes/detail"
    assert httpx.get(volumes, headers={"X-Auth-Token": other_token}).status_code == 403


# -- Nova/Cinder/Neutron over plain HTTP ----------------------------------------------------------
def test_limit_marker_paging_links_full_pages_and_ends_with_an_empty_one(sim: OpenStackSim) -> None:
    token, body = issue_token(sim, "dev-eu")
    url: str | None = f"{endpoint(body, 'compute', 'RegionOne')}/servers/detail"
    seen: list[str] = []
    pages = 0
    while url:
        answer = httpx.get(url, headers={"X-Auth-Token": token}).json()
        pages += 1
        seen += [s["name"] for s in answer["servers"]]
        links = answer.get("servers_links", [])
        assert len(answer["servers"]) == 2 or not links
        url = next((link["href"] for link in links if link["rel"] == "next"), None)
    expected = [*WORKERS, BASTION, "legacy-db", "going-away", "shoot--dev--alpha-pool-z1-99999-zzzzz"]
    assert seen == expected
    assert pages == 5  # 9 servers in pages of 2: the fifth page is short and has no next link

    bad = httpx.get(f"{endpoint(body, 'compute', 'RegionOne')}/servers/detail?marker=not-a-server",
                    headers={"X-Auth-Token": token})
    assert bad.status_code == 400


def test_microversion_decides_the_flavor_shape(sim: OpenStackSim) -> None:
    token, body = issue_token(sim, "dev-eu")
    url = f"{endpoint(body, 'compute', 'RegionOne')}/servers/detail?limit=1"
    old = httpx.get(url, headers={"X-Auth-Token": token})
    old_flavor = old.json()["servers"][0]["flavor"]
    assert old_flavor["id"] == "g1.large" and "original_name" not in old_flavor
    new = httpx.get(url, headers={"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.96"})
    assert new.headers["OpenStack-API-Version"] == "compute 2.96"
    assert new.json()["servers"][0]["flavor"]["original_name"] == "g1.large"
    too_new = httpx.get(url, headers={"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.101"})
    assert too_new.status_code == 406


def test_throttle_answers_429_with_retry_after_then_serves(sim: OpenStackSim) -> None:
    token, body = issue_token(sim, "ops")
    url = f"{endpoint(body, 'network', 'RegionOne')}/v2.0/floatingips"
    statuses = [httpx.get(url, headers={"X-Auth-Token": token}) for _ in range(4)]
    assert [r.status_code for r in statuses] == [429, 429, 429, 200]
    assert statuses[0].headers["Retry-After"] == "0"
    assert sim.throttle.throttled_count(sim.scope_key("ops")) == 4


def test_forbidden_project_gets_a_token_but_no_resources(sim: OpenStackSim) -> None:
    token, body = issue_token(sim, "locked")
    compute = httpx.get(f"{endpoint(body, 'compute', 'RegionOne')}/servers/detail", headers={"X-Auth-Token": token})
    assert compute.status_code == 403 and "Policy" in compute.json()["forbidden"]["message"]
    network = httpx.get(f"{endpoint(body, 'network', 'RegionOne')}/v2.0/ports", headers={"X-Auth-Token": token})
    assert network.status_code == 403 and network.json()["NeutronError"]["type"] == "HTTPForbidden"
    # Region-level: dev-eu's RegionTwo is forbidden, its RegionOne is not.
    token, body = issue_token(sim, "dev-eu")
    assert httpx.get(f"{endpoint(body, 'compute', 'RegionTwo')}/servers/detail",
                     headers={"X-Auth-Token": token}).status_code == 403
    assert httpx.get(f"{endpoint(body, 'compute', 'RegionOne')}/servers/detail",
                     headers={"X-Auth-Token": token}).status_code == 200


# -- ids and config -------------------------------------------------------------------------------
def test_ids_are_deterministic_and_config_reaches_the_sim(tmp_path: Path) -> None:
    first = OpenStackSim(openstack_landscape(), tmp_path)
    again = OpenStackSim(openstack_landscape(), tmp_path)
    other_seed = OpenStackSim(openstack_landscape(seed=8), tmp_path)
    assert first.provider_ids() == again.provider_ids()
    assert first.provider_ids()["w0"] != other_seed.provider_ids()["w0"]
    ids = first.provider_ids()
    assert "aws-vm" not in ids and "hidden" in ids and "secret-vm" in ids
    assert all(v.startswith("openstack:///") and len(v) == len("openstack:///") + 36 for v in ids.values())
    clouds = first.source_config()["clouds"]
    assert [c["name"] for c in clouds] == ["dev-eu", "ops", "locked"]
    assert clouds[0]["regions"] == ["RegionOne", "RegionTwo"]
    assert clouds[0]["auth"]["project_name"] == "dev-eu"
    assert set(clouds[0]["auth"]) == {"auth_url", "username", "password", "project_name", "user_domain_name",
                                      "project_domain_name"}


# -- the real openstacksdk ------------------------------------------------------------------------
def test_sdk_reads_back_the_landscape(sim: OpenStackSim) -> None:
    conn = connect(sim, "dev-eu")
    ids = {key: pid.removeprefix("openstack:///") for key, pid in sim.provider_ids().items()}
    servers = {s.name: s for s in conn.compute.servers(details=True)}
    assert set(servers) == {*WORKERS, BASTION, "legacy-db", "going-away", "shoot--dev--alpha-pool-z1-99999-zzzzz"}
    worker = servers[WORKERS[0]]
    assert worker.id == ids["w0"]
    assert worker.status == "ACTIVE" and worker.availability_zone == "az2" and worker.flavor.name == "g1.large"
    assert worker.metadata == {"kubernetes.io-cluster-shoot--dev--alpha": "1", "kubernetes.io-role-node": "1"}
    assert servers[BASTION].metadata == {}
    assert servers["legacy-db"].status == "SHUTOFF" and servers["legacy-db"].metadata == {"owner": "db-team"}
    assert servers["going-away"].status == "SOFT_DELETED"
    assert servers["shoot--dev--alpha-pool-z1-99999-zzzzz"].status == "BUILD"
    floating = [a["addr"] for a in servers["legacy-db"].addresses["private"] if a["OS-EXT-IPS:type"] == "floating"]
    assert len(floating) == 1

    volumes = list(conn.block_storage.volumes(details=True))
    # 9 implicit boot volumes, 2 worker data volumes, 3 free-standing/explicitly attached ones
    assert len(volumes) == 14 and len({v.id for v in volumes}) == 14
    by_server: dict[str, list[Any]] = {}
    for volume in volumes:
        for attachment in volume.attachments:
            by_server.setdefault(attachment["server_id"], []).append(volume)
    assert sorted(v.size for v in by_server[ids["w0"]]) == [20, 50]
    data = next(v for v in by_server[ids["w0"]] if v.size == 20)
    assert data.metadata == {"cinder.csi.openstack.org/cluster": "shoot--dev--alpha"} and data.status == "in-use"
    assert {v.volume_type for v in by_server[ids["legacy"]]} == {"__DEFAULT__", "ssd"}
    orphan = next(v for v in volumes if v.size == 100)
    assert orphan.status == "available" and orphan.attachments == []

    fips = {f.floating_ip_address: f for f in conn.network.ips()}
    assert fips["172.24.9.9"].port_id is None and fips["172.24.9.9"].status == "DOWN"
    assert fips["172.24.9.9"].description.endswith("from cluster shoot--dev--alpha")
    bastion_ip = next(f for f in fips.values() if f.description == BASTION)
    assert bastion_ip.port_details["device_id"] == ids["bastion"]
    ports = {p.id: p for p in conn.network.ports()}
    assert ports[bastion_ip.port_id].device_id == ids["bastion"]
    assert ports[bastion_ip.port_id].device_owner == "compute:az1"
    conn.close()


def test_sdk_pages_through_every_service(sim: OpenStackSim) -> None:
    conn = connect(sim, "dev-eu")
    assert len(list(conn.compute.servers(details=True))) == 9
    assert len(list(conn.block_storage.volumes(details=True))) == 14
    assert len(list(conn.network.ips())) == 4
    assert len(list(conn.network.ports())) == 9
    calls = [path for _method, path, _query in sim.requests]
    assert sum(p.endswith("/servers/detail") for p in calls) == 5  # 2+2+2+2+1
    assert sum(p.endswith("/volumes/detail") for p in calls) == 8  # 7 full pages, then an empty one
    assert sum(p.endswith("/floatingips") for p in calls) == 3
    conn.close()


def test_sdk_without_retries_fails_on_429_and_with_retries_succeeds(sim: OpenStackSim) -> None:
    from openstack import exceptions

    plain = connect(sim, "ops", status_code_retries=0)
    with pytest.raises(exceptions.HttpException) as failure:
        list(plain.compute.servers(details=True))
    assert failure.value.status_code == 429
    plain.close()
    retrying = connect(sim, "ops", status_code_retries=5)
    assert sorted(s.name for s in retrying.compute.servers(details=True)) == ["ops-1", "ops-2"]
    retrying.close()
