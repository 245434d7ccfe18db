"""The OpenStack collector with the real openstacksdk: against the simulator, and against the upstream
API samples (/work/shared/api-samples/openstack) served unchanged."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import openstack.connection
import pytest
import yaml
from openstack import exceptions
from openstack.config import OpenStackConfig

from collectors.openstack import (
    collect_disks,
    collect_instances,
    collect_ips,
    disk_record,
    ip_record,
    neutral_status,
    plan,
)
from collectors.openstack.api import items_of
from collectors.openstack.ips import port_devices
from collectors.openstack.settings import OpenStackCloud
from collectors.records import CloudAccountRecord, DiskRecord, InstanceRecord, IPRecord, RegionRecord
from collectors.scope import ScopeTask
from graphinv.ingest.engine import record_row
from graphinv.sim import openstack as simos
from graphinv.sim.http import Request, Response, SimHTTPServer
from graphinv.sim.openstack import OpenStackSim
from tests.support.openstack_landscapes import BASTION, WORKERS, openstack_landscape, openstack_sim
from tests.support.scopes import fetch_each as run


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[OpenStackSim]:
    with openstack_sim(tmp_path) as server:
        yield server


def key_ids(sim: OpenStackSim) -> dict[str, str]:
    return {key: pid.removeprefix("openstack:///") for key, pid in sim.provider_ids().items()}


# -- against the simulator ------------------------------------------------------------------------
def test_plan_scopes_and_context(sim: OpenStackSim) -> None:
    tasks = plan(sim.source_config())
    keys = [t.scope.key for t in tasks]
    assert keys == [f"openstack:{p}:{r}:{k}" for p, r in
                    [("dev-eu", "RegionOne"), ("dev-eu", "RegionTwo"), ("ops", "RegionOne"), ("locked", "RegionOne")]
                    for k in ("Instance", "Disk", "IP", "MachineType")]
    account, region = tasks[4].context  # the first scope of dev-eu's second region
    assert isinstance(account, CloudAccountRecord) and account.uid == "openstack:dev-eu"
    assert isinstance(region, RegionRecord) and region.uid == "openstack:RegionTwo"
    assert all(t.scope.extra_labels == () for t in tasks)
    assert not sim.requests  # planning with listed regions talks to nobody


def test_collects_what_the_landscape_says_and_fails_only_forbidden_scopes(sim: OpenStackSim) -> None:
    done, failed = run(plan(sim.source_config()))
    assert set(failed) == {f"openstack:{scope}:{kind}" for scope in ("dev-eu:RegionTwo", "locked:RegionOne")
                           for kind in ("Instance", "Disk", "IP", "MachineType")}
    assert all(isinstance(e, exceptions.ForbiddenException) for e in failed.values())
    ids = key_ids(sim)

    instances = {r.name: r for r in done["openstack:dev-eu:RegionOne:Instance"] if isinstance(r, InstanceRecord)}
    assert len(instances) == 9
    worker = instances[WORKERS[1]]
    assert (worker.uid, worker.status, worker.state, worker.role) == (ids["w1"], "running", "active", "node")
    row = record_row(worker)["props"]  # the engine derives the account, region and shoot keys
    assert (worker.cluster, row["shoot_ref"]) == ("shoot--dev--alpha", "shoot--dev--alpha")
    assert worker.cluster_name_key == f"shoot--dev--alpha/{WORKERS[1]}"
    assert worker.provider_id == sim.provider_ids()["w1"]
    assert (worker.zone, worker.instance_type, worker.network) == ("az1", "g1.large", "shoot--dev--alpha")
    assert worker.private_ip and worker.private_ip.startswith("10.") and worker.public_ip is None
    assert (row["account_ref"], row["region_ref"], worker.account_id) == ("openstack:dev-eu", "openstack:RegionOne",
                                                                         "dev-eu")
    bastion = instances[BASTION]
    assert (bastion.role, bastion.cluster, bastion.tags) == ("bastion", None, {})
    assert bastion.public_ip is not None
    legacy = instances["legacy-db"]
    assert (legacy.status, legacy.state, legacy.role, legacy.cluster) == ("stopped", "shutoff", None, None)
    assert legacy.tags == {"owner": "db-team"} and legacy.created == datetime(2023, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert legacy.instance_type == "m1.xlarge" and legacy.public_ip is not None
    assert instances["going-away"].status == "terminated"
    assert instances["shoot--dev--alpha-pool-z1-99999-zzzzz"].status == "pending"

    disks = [r for r in done["openstack:dev-eu:RegionOne:Disk"] if isinstance(r, DiskRecord)]
    assert len(disks) == 14
    data = [d for d in disks if d.instance_ref == ids["w0"] and not d.boot]
    assert len(data) == 1 and data[0].cluster == "shoot--dev--alpha" and data[0].size_gb == 20
    assert data[0].attached and data[0].attached_instances == [ids["w0"]] and data[0].last_attached is not None
    boots = [d for d in disks if d.boot]
    assert len(boots) == 9 and {d.instance_ref for d in boots} == {ids[k] for k in
                                                                   ("w0", "w1", "w2", "w3", "w4", "bastion", "legacy",
                                                                    "going", "booting")}
    orphan = next(d for d in disks if d.size_gb == 100)
    assert (orphan.attached, orphan.instance_ref, orphan.state, orphan.cluster) == (False, None, "available",
                                                                                   "shoot--dev--alpha")
    assert orphan.created == datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)
    shared = next(d for d in disks if d.disk_type == "ssd")
    assert shared.instance_ref == ids["legacy"]
    scratch = next(d for d in disks if d.name == "scratch")
    assert scratch.tags == {"purpose": "tmp"} and not scratch.attached

    ips = {r.address: r for r in done["openstack:dev-eu:RegionOne:IP"] if isinstance(r, IPRecord)}
    assert len(ips) == 4
    leaked = ips["172.24.9.9"]
    assert (leaked.attached, leaked.instance_ref, leaked.state, leaked.cluster) == (False, None, "down",
                                                                                   "shoot--dev--alpha")
    assert leaked.allocation == "floating" and not leaked.ephemeral
    bastion_ip = ips[str(bastion.public_ip)]
    assert (bastion_ip.instance_ref, bastion_ip.state, bastion_ip.name) == (ids["bastion"], "active", BASTION)
    assert bastion_ip.attached_to is not None
    assert ips[str(legacy.public_ip)].instance_ref == ids["legacy"]
    spare = next(ip for ip in ips.values() if ip.tags)
    assert spare.tags == {"team": "net"} and spare.instance_ref is None

    ops = [r for r in done["openstack:ops:RegionOne:Instance"] if isinstance(r, InstanceRecord)]
    assert sorted(r.name or "" for r in ops) == ["ops-1", "ops-2"]


def test_parallel_fetches_match_sequential_ones(sim: OpenStackSim) -> None:
    sequential, _ = run(plan(sim.source_config()))
    tasks = plan(sim.source_config())
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda t: (t.scope.key, _uids_or_error(t)), tasks))
    parallel = {key: uids for key, uids in results if uids is not None}
    assert parallel == {key: sorted(r.uid for r in records) for key, records in sequential.items()}
    assert {key for key, uids in results if uids is None} == {
        f"openstack:{s}:{k}" for s in ("dev-eu:RegionTwo", "locked:RegionOne")
        for k in ("Instance", "Disk", "IP", "MachineType")}


def _uids_or_error(task: ScopeTask) -> list[str] | None:
    try:
        return sorted(r.uid for r in task.fetch())
    except exceptions.ForbiddenException:
        return None


def test_pages_cross_boundaries_without_loss_or_duplicates(sim: OpenStackSim) -> None:
    done, _failed = run([t for t in plan(sim.source_config()) if t.scope.account == "dev-eu"
                         and t.scope.region == "RegionOne"])
    for kind, count in (("Instance", 9), ("Disk", 14), ("IP", 4)):
        uids = [r.uid for r in done[f"openstack:dev-eu:RegionOne:{kind}"]]
        assert len(uids) == count and len(set(uids)) == count
    paths = [path for _m, path, _q in sim.requests]
    assert sum(p.endswith("/servers/detail") for p in paths) == 5
    assert sum(p.endswith("/volumes/detail") for p in paths) == 8


def test_throttled_project_is_retried_to_completion(sim: OpenStackSim) -> None:
    tasks = [t for t in plan(sim.source_config()) if t.scope.account == "ops"]
    done, failed = run(tasks)
    assert failed == {}
    assert len(done["openstack:ops:RegionOne:Instance"]) == 2
    assert len(done["openstack:ops:RegionOne:Disk"]) == 2
    # 3 answers were 429, and each of the 3 scopes still got its own successful list calls.
    assert sim.throttle.throttled_count(sim.scope_key("ops")) >= 3 + 3


def test_without_status_code_retries_the_429_fails_the_scope(sim: OpenStackSim) -> None:
    section = {**sim.source_config(), "status_code_retries": 0}
    task = next(t for t in plan(section) if t.scope.key == "openstack:ops:RegionOne:Instance")
    with pytest.raises(exceptions.HttpException) as failure:
        list(task.fetch())
    assert failure.value.status_code == 429


def test_application_credentials_and_discovered_regions(sim: OpenStackSim) -> None:
    section = {"clouds": [{"name": "ops-app", "project": "ops", "auth": sim.application_credential_auth("ops")}]}
    tasks = plan(section)  # no regions listed: read from the token's catalog
    assert [t.scope.key for t in tasks] == ["openstack:ops:RegionOne:Instance", "openstack:ops:RegionOne:Disk",
                                            "openstack:ops:RegionOne:IP", "openstack:ops:RegionOne:MachineType"]
    done, failed = run(tasks)
    assert failed == {} and len(done["openstack:ops:RegionOne:Instance"]) == 2


def test_region_discovery_failure_fails_only_that_project(sim: OpenStackSim) -> None:
    bad_auth = {**sim.password_auth("dev-eu"), "password": "wrong-password-xyz"}
    section = {"clouds": [{"name": "broken", "auth": bad_auth},
                          {"name": "ops", "auth": sim.password_auth("ops"), "regions": ["RegionOne"]}]}
    done, failed = run(plan(section))
    assert set(failed) == {f"openstack:dev-eu:global:{k}" for k in ("Instance", "Disk", "IP", "MachineType")}
    assert set(done) == {f"openstack:ops:RegionOne:{k}" for k in ("Instance", "Disk", "IP", "MachineType")}
    for error in failed.values():
        assert "wrong-password-xyz" not in str(error) and "wrong-password-xyz" not in repr(error)


def test_credentials_stay_out_of_reprs_and_errors(sim: OpenStackSim) -> None:
    auth = {**sim.password_auth("ops"), "password": "hunter2-secret"}
    entry = OpenStackCloud.model_validate({"name": "ops", "auth": auth, "regions": ["RegionOne"]})
    assert "hunter2-secret" not in repr(entry) and entry.project == "ops"
    task = plan({"clouds": [{"name": "ops", "auth": auth, "regions": ["RegionOne"]}]})[0]
    assert "hunter2-secret" not in repr(task)
    with pytest.raises(Exception) as failure:
        list(task.fetch())
    assert "hunter2-secret" not in str(failure.value) and "hunter2-secret" not in repr(failure.value)


def test_clouds_yaml_entry(sim: OpenStackSim, tmp_path: Path) -> None:
    clouds_file = tmp_path / "clouds.yaml"
    clouds_file.write_text(yaml.safe_dump({"clouds": {"sim-ops": {"auth": sim.password_auth("ops"),
                                                                  "region_name": "RegionOne"}}}))
    tasks = plan({"clouds": [{"name": "sim-ops", "clouds_file": str(clouds_file), "regions": ["RegionOne"]}]})
    assert tasks[0].scope.account == "ops"  # the project name from clouds.yaml's auth
    done, failed = run(tasks)
    assert failed == {} and len(done["openstack:ops:RegionOne:Disk"]) == 2


def test_floating_ips_resolve_through_ports_without_port_details(tmp_path: Path) -> None:
    sim = OpenStackSim(openstack_landscape(), tmp_path, page_size=2, fip_port_details=False)
    sim.start()
    try:
        task = next(t for t in plan(sim.source_config()) if t.scope.key == "openstack:dev-eu:RegionOne:IP")
        ips = {r.address: r for r in task.fetch() if isinstance(r, IPRecord)}
        ids = key_ids(sim)
        assert {ip.instance_ref for ip in ips.values()} == {ids["bastion"], ids["legacy"], None}
        port_queries = [q for _m, path, q in sim.requests if path.endswith("/ports")]
        assert port_queries and all(len(q.get("id", [])) == 2 for q in port_queries[:1])
    finally:
        sim.stop()


@pytest.mark.parametrize(("status", "task", "expected"), [
    ("ACTIVE", None, "running"), ("SHUTOFF", None, "stopped"), ("BUILD", "spawning", "pending"),
    ("ACTIVE", "deleting", "shutting-down"), ("ACTIVE", "powering-off", "stopping"),
    ("SOFT_DELETED", None, "terminated"), ("SHELVED_OFFLOADED", None, "stopped"), ("ERROR", None, "unknown"),
    ("SOMETHING_NEW", None, "unknown"),
])
def test_neutral_status(status: str, task: str | None, expected: str) -> None:
    assert neutral_status(status, task) == expected


# -- upstream samples, served unchanged -------------------------------------------------------------
class SampleCloud:
    """Serves /work/shared/api-samples/openstack as they are. The Keystone sample's catalog points at
    23.253.248.171 and example.com; the test routes all plain-http traffic to this server as an HTTP
    proxy, so the SDK uses that catalog unchanged. Version documents are ours (there are no samples)."""

    def __init__(self, samples: Path, token_sample: str, nova: str, cinder: str) -> None:
        self.samples = samples
        self.token_sample = token_sample
        self.nova = nova
        self.cinder = cinder
        headers = (samples / "keystone-auth-response-headers-HTTP.txt").read_text()
        match = re.search(r"^X-Subject-Token:\s*(\S+)", headers, re.MULTILINE)
        assert match, "the header sample names the token"
        self.token = match[1]
        self.requests: list[tuple[str, str, str, dict[str, list[str]], bytes]] = []
        self.server = SimHTTPServer(self.handle, name="openstack-samples")

    def sample(self, name: str) -> bytes:
        return (self.samples / name).read_bytes()

    def json_sample(self, name: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(status, self.sample(name), {"Content-Type": "application/json", **(headers or {})})

    def handle(self, request: Request) -> Response:
        host = request.headers.get("host", "")
        self.requests.append((request.method, host, request.path, request.query, request.body))
        path = request.path.rstrip("/")
        base = f"http://{host}"
        if path == "/identity":
            return Response.json(simos.keystone_versions(f"{base}/identity"), 300)
        if path == "/identity/v3":
            return Response.json(simos.keystone_v3(f"{base}/identity"))
        if path == "/identity/v3/auth/tokens" and request.method == "POST":
            return self.json_sample(self.token_sample, 201, {"X-Subject-Token": self.token})
        if request.headers.get("x-auth-token") != self.token:
            return Response.json({"error": {"code": 401, "message": "no token"}}, 401)
        if host.endswith(":8774") and re.fullmatch(r"(/v2\.1)?(/[0-9a-f]+)?", path):  # nova discovery
            return Response.json({"versions": [simos.nova_version(base)]}, 300 if path == "" else 200)
        if path.endswith("/servers/detail"):  # also the sample's next link to openstack.example.com
            if "marker" in request.query:
                return Response.json({"servers": []})
            return self.json_sample(self.nova)
        if host.endswith(":8776"):  # cinder
            version = "v2.0" if "v2" in self.cinder else "v3.0"
            if path.endswith("/volumes/detail"):
                if "marker" in request.query:
                    return Response.json({"volumes": []})
                return self.json_sample(self.cinder)
            return Response.json({"versions": [simos.cinder_version(base, version)]}, 300 if path == "" else 200)
        if host.endswith(":9696"):  # neutron
            if path == "":
                return Response.json(simos.neutron_versions(base))
            if path == "/v2.0/floatingips":
                return self.json_sample("neutron-floating-ips-list-response.json")
            if path == "/v2.0/ports":
                ports = json.loads(self.sample("neutron-ports-list-response.json"))["ports"]
                wanted = request.query.get("id")
                return Response.json({"ports": [p for p in ports if not wanted or p["id"] in wanted]})
        return Response.json({"error": {"code": 404, "message": f"no sample for {host}{request.path}"}}, 404)


@pytest.fixture
def sample_cloud(shared_samples: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SampleCloud]:
    cloud = SampleCloud(shared_samples / "openstack",
                        token_sample="keystone-auth-password-project-scoped-response.full-catalog.json",
                        nova="nova-servers-details-resp.v2.100.json",
                        cinder="cinder-volumes-list-detailed-response.v3.json")
    cloud.server.start()
    # Standard proxy settings of `requests`: every sample host reaches this server, nothing leaves the machine.
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, cloud.server.url)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    yield cloud
    cloud.server.stop()


def sample_connection(cloud: SampleCloud) -> Any:
    request = json.loads(cloud.sample("keystone-auth-project-name-password-request.json"))["auth"]
    user = request["identity"]["password"]["user"]
    project = request["scope"]["project"]
    config = OpenStackConfig(load_yaml_config=False, load_envvars=False).get_one(
        auth_type="password", region_name="RegionOne", connect_retries=0, status_code_retries=0, auth={
            "auth_url": "http://example.com/identity", "user_id": user["id"], "password": user["password"],
            "project_name": project["name"], "project_domain_id": project["domain"]["id"]})
    return openstack.connection.Connection(config=config)


def test_sample_keystone_exchange(sample_cloud: SampleCloud) -> None:
    sample_cloud.token_sample = "keystone-auth-project-scoped-password-response.json"
    conn = sample_connection(sample_cloud)
    assert conn.session.get_token() == sample_cloud.token
    assert conn.current_project_id == "a6944d763bf64ee6a275f1263fae0352"
    posted = next(body for method, _h, path, _q, body in sample_cloud.requests if method == "POST")
    # The SDK's request is the upstream request sample.
    assert json.loads(posted) == json.loads(sample_cloud.sample("keystone-auth-project-name-password-request.json"))
    conn.close()


@pytest.mark.parametrize(("nova", "flavor"), [("nova-servers-details-resp.v2.100.json", "m1.tiny"),
                                              ("nova-servers-details-resp.v2.96.json", "m1.tiny"),
                                              ("nova-servers-details-resp.v2.1.json", "1")])
def test_sample_nova_servers(sample_cloud: SampleCloud, nova: str, flavor: str) -> None:
    sample_cloud.nova = nova
    conn = sample_connection(sample_cloud)
    (record,) = collect_instances(conn, "admin", "RegionOne")
    assert record.uid == "f5dc173b-6804-445a-a6d8-c705dad5b5eb" and record.name == "new-server-test"
    assert (record.status, record.state, record.zone, record.instance_type) == ("running", "active", "us-west", flavor)
    assert (record.private_ip, record.public_ip, record.network) == ("192.168.1.30", None, "private")
    assert record.tags == {"My Server Name": "Apache1"}
    assert (record.cluster, record.role, record.cluster_name_key) == (None, None, None)
    assert record.created == datetime(2013, 9, 3, 4, 1, 32, tzinfo=UTC)
    assert record.provider_id == "openstack:///f5dc173b-6804-445a-a6d8-c705dad5b5eb"
    # The sample's next link (to openstack.example.com) was followed, and answered with an empty page.
    assert any(h == "openstack.example.com" and "marker" in q for _m, h, _p, q, _b in sample_cloud.requests)
    conn.close()


@pytest.mark.parametrize("cinder", ["cinder-volumes-list-detailed-response.v3.json",
                                    "cinder-volumes-list-detailed-response.v3.69.json"])
def test_sample_cinder_v3_volumes(sample_cloud: SampleCloud, cinder: str) -> None:
    sample_cloud.cinder = cinder
    conn = sample_connection(sample_cloud)
    (record,) = collect_disks(conn, "admin", "RegionOne")
    assert (record.uid, record.state, record.size_gb, record.zone) == ("cb49b381-9012-40cb-b8ee-80c19a4801b5",
                                                                      "creating", 10, "nova")
    assert (record.name, record.boot, record.attached, record.disk_type) == (None, False, False, "__DEFAULT__")
    assert record.created == datetime(2018, 11, 28, 6, 25, 15, 288987, tzinfo=UTC)
    conn.close()


def test_sample_cinder_v2_volumes_with_attachments(sample_cloud: SampleCloud) -> None:
    sample_cloud.cinder = "cinder-volumes-list-detailed-response.v2-with-attachments.json"
    conn = sample_connection(sample_cloud)
    assert type(conn.block_storage).__module__ == "openstack.block_storage.v2._proxy"
    # One page only: the sample's next link points at an https host outside this test.
    answer = conn.block_storage.get("/volumes/detail", headers={"Accept": "application/json"})
    volumes = answer.json()["volumes"]
    records = {r.name: r for r in (disk_record(v, "admin", "RegionOne") for v in volumes)}
    attached = records["test-volume-attachments"]
    assert attached.attached and attached.attached_instances == ["f4fda93b-06e0-4743-8117-bc8bcecd651b"]
    assert attached.instance_ref == "f4fda93b-06e0-4743-8117-bc8bcecd651b" and attached.state == "in-use"
    assert attached.tags == {"readonly": "false", "attached_mode": "rw"} and not attached.boot
    free = records["test-volume"]
    assert (free.attached, free.instance_ref, free.boot, free.size_gb) == (False, None, True, 1)
    conn.close()


def test_sample_neutron_floating_ips_and_ports(sample_cloud: SampleCloud) -> None:
    conn = sample_connection(sample_cloud)
    records = {r.address: r for r in collect_ips(conn, "admin", "RegionOne")}
    assert set(records) == {"172.24.4.228", "172.24.4.227", "172.24.4.42"}
    on_server = records["172.24.4.228"]
    assert on_server.instance_ref == "8e3941b4-a6e9-499f-a1ac-2a4662025cba"  # port_details, device_owner compute:nova
    assert (on_server.attached_to, on_server.state) == ("ce705c24-c1ef-408a-bda3-7bbd946164ab", "active")
    assert on_server.created == datetime(2016, 12, 21, 10, 55, 50, tzinfo=UTC)
    assert on_server.tags == {"tag1,tag2": ""}
    unused = records["172.24.4.227"]
    assert (unused.attached, unused.instance_ref, unused.state) == (False, None, "down")

    # The ports sample holds router ports: a floating IP on one resolves to no server.
    devices = port_devices(conn, ["d80b1a3b-4fc1-49f3-952e-1e2ab7081d8b", "f71a6703-d6de-4be1-a91a-a570ede1d159"])
    assert {d["device_owner"] for d in devices.values()} == {"network:router_gateway", "network:router_interface"}
    fip = next(items_of(conn.network, "/floatingips", "floatingips", "floating IPs"))
    routed = ip_record(fip, devices["d80b1a3b-4fc1-49f3-952e-1e2ab7081d8b"], "admin", "RegionOne")
    assert routed.instance_ref is None and routed.attached
    ids_asked = [q.get("id") for _m, _h, path, q, _b in sample_cloud.requests if path == "/v2.0/ports"]
    assert ids_asked == [["d80b1a3b-4fc1-49f3-952e-1e2ab7081d8b", "f71a6703-d6de-4be1-a91a-a570ede1d159"]]
    conn.close()


def test_sample_server_refuses_foreign_traffic(sample_cloud: SampleCloud) -> None:
    # The proxy setup really routes sample hosts here: a made-up host answers this server's 404.
    answer = httpx.get("http://23.253.248.171:1/nothing", headers={"X-Auth-Token": sample_cloud.token})
    assert answer.status_code == 404 and "no sample" in answer.json()["error"]["message"]
