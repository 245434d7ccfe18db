"""The GCP collector: the real google-cloud-compute SDK (REST) against the simulator and against
Google's recorded responses (gcpdiag test data) served unchanged over HTTP."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1
from google.protobuf.json_format import ParseError
from pydantic import ValidationError

from collectors.gcp import collect_addresses, collect_disks, collect_instances, plan
from collectors.gcp.addresses import address_record
from collectors.gcp.clients import GcpConfigError, build_clients, load_credentials
from collectors.gcp.disks import disk_record
from collectors.gcp.gardener_marks import cluster_of, is_bastion_name, role_of
from collectors.gcp.instances import instance_record
from collectors.gcp.rest import API_VERSION, aggregated_items, global_address_items
from collectors.gcp.retry import RetryAfter
from collectors.provider_ids import instance_uid as instance_uid_from_provider_id
from collectors.records import CloudAccountRecord, DiskRecord, InstanceRecord, IPRecord, Record
from collectors.scope import ScopeTask
from graphinv.ingest.engine import record_row
from graphinv.sim.gcp import GcpSim
from graphinv.sim.http import Request, Response, SimHTTPServer
from graphinv.sim.landscape import Landscape, parse_landscape
from tests.support.gcp_landscapes import DENIED, OTHER, PROJECT, THROTTLED, landscape_data
from tests.support.scopes import running

NODE_A = "shoot--dev--app-worker-z1-aaaaa-bbbbb"
NODE_B = "shoot--dev--app-worker-z2-ccccc-ddddd"
BASTION = "shoot--dev--app-cli-1234-bastion-0a1b2"


def uid(zone: str, name: str, project: str = PROJECT) -> str:
    return f"projects/{project}/zones/{zone}/instances/{name}"


@pytest.fixture
def landscape() -> Landscape:
    return parse_landscape(landscape_data())


@pytest.fixture
def sim(landscape: Landscape, tmp_path: Path) -> Iterator[GcpSim]:
    with running(GcpSim(landscape, tmp_path)) as server:
        yield server


def fetch_all(tasks: list[ScopeTask], project: str) -> dict[str, list[Record]]:
    return {t.scope.kind: list(t.fetch()) for t in tasks if t.scope.account == project}


def by_uid(records: list[Record], kind: type[Record]) -> dict[str, Any]:
    return {r.uid: r for r in records if isinstance(r, kind)}


# -- against the simulator ---------------------------------------------------------------------
def test_plan_makes_one_scope_per_project_and_kind(sim: GcpSim) -> None:
    tasks = plan(sim.source_config())
    assert [str(t.scope) for t in tasks if t.scope.account == PROJECT] == [
        f"gcp:{PROJECT}:global:Instance", f"gcp:{PROJECT}:global:Disk", f"gcp:{PROJECT}:global:IP",
        f"gcp:{PROJECT}:global:MachineType"]
    assert len(tasks) == 4 * 4
    instance_scope = tasks[0].scope
    assert instance_scope.labels == ("Instance", "IP")
    account = [r for r in tasks[0].context if isinstance(r, CloudAccountRecord)]
    assert [(a.uid, a.account_id) for a in account] == [(f"gcp:{PROJECT}", PROJECT)]


def test_instances_match_the_landscape(sim: GcpSim, landscape: Landscape) -> None:
    records = fetch_all(plan(sim.source_config()), PROJECT)["Instance"]
    instances = by_uid(records, InstanceRecord)
    account = next(a for a in landscape.accounts if a.id == PROJECT)
    live = [(r, i) for r in account.regions for i in r.instances if i.state != "terminated"]
    assert len(instances) == len(live)
    provider_ids = sim.provider_ids()
    for region, inst in live:
        zone = inst.zone or (region.zones[0] if region.zones else f"{region.name}-a")
        rec: InstanceRecord = instances[uid(zone, inst.name)]
        assert (rec.name, rec.zone, rec.region, rec.instance_type) == (inst.name, zone, region.name, inst.type)
        assert rec.provider_id == provider_ids[inst.key]
        assert instance_uid_from_provider_id(provider_ids[inst.key]) == rec.uid
        row = record_row(rec)["props"]  # the engine derives the account, region and shoot keys
        assert (row["account_ref"], row["region_ref"]) == (f"gcp:{PROJECT}", f"gcp:{region.name}")
        expected_status = {"running": "running", "stopped": "stopped", "pending": "pending"}[inst.state]
        assert rec.status == expected_status
        if inst.shoot and inst.role != "bastion":
            assert rec.role == "node" and rec.cluster == row["shoot_ref"] == "shoot--dev--app"
            assert rec.cluster_name_key == f"shoot--dev--app/{inst.name}"
            assert rec.network == "shoot--dev--app"
        elif inst.role == "bastion":
            # The bastion controller puts no cluster label on the VM; only the name tells the role.
            assert rec.role == "bastion" and rec.cluster is None
        else:
            assert rec.role is None and rec.cluster is None and rec.cluster_name_key is None
        gardener = {"name": "app", "k8s-cluster-name": "shoot--dev--app"} if rec.role == "node" else {}
        assert rec.tags == {**gardener, **inst.tags}
        assert rec.private_ip and rec.private_ip.startswith("10.")
    stray = instances[uid("europe-west1-b", "stray-vm")]
    assert (stray.state, stray.status) == ("terminated", "stopped")  # GCE calls a stopped VM TERMINATED
    assert instances[uid("europe-west1-c", NODE_B)].state == "provisioning"


def test_only_non_reserved_nat_ips_become_ephemeral_ip_records(sim: GcpSim) -> None:
    got = fetch_all(plan(sim.source_config()), PROJECT)
    instances = by_uid(got["Instance"], InstanceRecord)
    ephemeral = by_uid(got["Instance"], IPRecord)
    static = by_uid(got["IP"], IPRecord)
    node_a = instances[uid("europe-west1-b", NODE_A)]
    reserved = static[f"projects/{PROJECT}/regions/europe-west1/addresses/node-a-ip"]
    assert node_a.public_ip == reserved.address and reserved.instance_ref == node_a.uid
    assert f"gcp:{PROJECT}:{reserved.address}" not in ephemeral
    with_public = [i for i in instances.values() if i.public_ip and i.uid != node_a.uid]
    assert {i.name for i in with_public} == {"stray-vm", BASTION}
    for inst in with_public:
        ip: IPRecord = ephemeral[f"gcp:{PROJECT}:{inst.public_ip}"]
        assert ip.ephemeral and ip.attached and ip.instance_ref == inst.uid and ip.address == inst.public_ip
    assert len(ephemeral) == 2


def test_disks_are_attached_to_the_right_instance(sim: GcpSim) -> None:
    disks = by_uid(fetch_all(plan(sim.source_config()), PROJECT)["Disk"], DiskRecord)

    def disk(name: str, where: str = "zones/europe-west1-b") -> DiskRecord:
        return disks[f"projects/{PROJECT}/{where}/disks/{name}"]

    assert disk(NODE_A).instance_ref == uid("europe-west1-b", NODE_A) and disk(NODE_A).boot
    assert disk("node-a-data").attached_instances == [uid("europe-west1-b", NODE_A)]
    assert not disk("node-a-data").boot and disk("node-a-data").size_gb == 100
    extra = disk("extra", "zones/europe-west1-c")
    assert extra.instance_ref == uid("europe-west1-c", NODE_B) and extra.disk_type == "pd-ssd"
    pv = disk("pv-shoot--dev--app-0001")
    assert not pv.attached and pv.instance_ref is None and pv.cluster == "shoot--dev--app"
    left = disk("left-behind")
    assert not left.attached and left.last_detached is not None and left.last_attached is not None
    shared = disk("shared", "regions/europe-west1")
    assert shared.zone is None and shared.region == "europe-west1" and shared.size_gb == 200
    assert disk(NODE_A).cluster == "shoot--dev--app" and disk("us-vm", "zones/us-central1-a").cluster is None
    assert len(disks) == 10


def test_addresses_regional_and_global(sim: GcpSim) -> None:
    ips = by_uid(fetch_all(plan(sim.source_config()), PROJECT)["IP"], IPRecord)
    base = f"projects/{PROJECT}"
    assert set(ips) == {f"{base}/regions/europe-west1/addresses/{n}"
                        for n in ("node-a-ip", "unused-ip", "lb-ip", "of-deleted-ip")} | {
        f"{base}/global/addresses/global-ip"}
    unused = ips[f"{base}/regions/europe-west1/addresses/unused-ip"]
    assert (unused.address, unused.attached, unused.state, unused.allocation) == (
        "35.1.2.3", False, "reserved", "static")
    lb = ips[f"{base}/regions/europe-west1/addresses/lb-ip"]
    assert lb.attached and lb.instance_ref is None
    assert lb.attached_to == f"{base}/regions/europe-west1/forwardingRules/a1b2c3-rule"
    assert not ips[f"{base}/regions/europe-west1/addresses/of-deleted-ip"].attached
    glob = ips[f"{base}/global/addresses/global-ip"]
    assert glob.region == "global" and record_row(glob)["props"]["region_ref"] == "gcp:global"


def test_paging_with_small_pages_reads_the_same(sim: GcpSim) -> None:
    whole = fetch_all(plan(sim.source_config()), PROJECT)
    before = len(sim.requests)
    paged = fetch_all(plan({**sim.source_config(), "page_size": 1}), PROJECT)
    for kind in ("Instance", "Disk", "IP"):
        assert sorted(r.uid for r in paged[kind]) == sorted(r.uid for r in whole[kind])
        assert len({r.uid for r in paged[kind]}) == len(paged[kind])  # no record twice
    page_requests = [e for e in sim.requests[before:] if "pageToken" in e.query]
    assert len(page_requests) >= len(whole["Disk"]) - 1  # one more request per disk after the first


def test_throttled_project_is_retried_until_it_answers(sim: GcpSim) -> None:
    tasks = plan(sim.source_config())
    got = fetch_all(tasks, THROTTLED)
    assert [r.name for r in got["Instance"] if isinstance(r, InstanceRecord)] == ["t1"]
    statuses = [e.status for e in sim.requests if f"/projects/{THROTTLED}/" in e.path]
    assert statuses[:3] == [429, 429, 200] and statuses.count(429) == 2
    assert sim.throttled_count(THROTTLED) == len(statuses)


def test_forbidden_project_fails_only_its_own_scopes(sim: GcpSim) -> None:
    tasks = plan(sim.source_config())
    failed: list[str] = []
    done: dict[str, int] = {}
    for task in tasks:
        try:
            done[str(task.scope)] = len(list(task.fetch()))
        except gexc.Forbidden as exc:
            failed.append(str(task.scope))
            assert exc.code == 403
    assert sorted(failed) == sorted(f"gcp:{DENIED}:global:{k}" for k in ("Instance", "Disk", "IP", "MachineType"))
    assert done[f"gcp:{OTHER}:global:Instance"] == 7
    assert done[f"gcp:{PROJECT}:global:Disk"] == 10
    denied = [e for e in sim.requests if f"/projects/{DENIED}/" in e.path]
    assert denied and all(e.status == 403 for e in denied)
    assert len(denied) == 4  # a 403 is not retried: one request per scope


# -- retries, honoured Retry-After, credentials ------------------------------------------------
def test_retry_after_header_is_honoured() -> None:
    seen: list[int] = []

    def handle(request: Request) -> Response:
        seen.append(1)
        if len(seen) <= 2:
            body = {"error": {"code": 429, "message": "slow down",
                              "errors": [{"reason": "rateLimitExceeded", "domain": "usageLimits"}]}}
            return Response.json(body, 429, {"Retry-After": "7"})
        return Response.json({"kind": "compute#diskAggregatedList", "items": {}})

    server = SimHTTPServer(handle).start()
    slept: list[float] = []
    try:
        client = compute_v1.DisksClient(transport="rest", credentials=AnonymousCredentials(),
                                        client_options=ClientOptions(api_endpoint=server.url))
        retry = RetryAfter(sleep=slept.append)
        assert list(collect_disks(client, "p", retry=retry)) == []
    finally:
        server.stop()
    assert len(seen) == 3
    assert len(slept) == 2 and all(s >= 7 for s in slept)  # no wall clock involved: sleep is recorded


def test_retry_gives_up_after_its_attempts() -> None:
    def handle(request: Request) -> Response:
        return Response.json({"error": {"code": 503, "message": "down"}}, 503)

    server = SimHTTPServer(handle).start()
    try:
        client = compute_v1.InstancesClient(transport="rest", credentials=AnonymousCredentials(),
                                            client_options=ClientOptions(api_endpoint=server.url))
        with pytest.raises(gexc.ServiceUnavailable):
            list(collect_instances(client, "p", retry=RetryAfter(attempts=3, sleep=lambda _s: None)))
    finally:
        server.stop()


def test_credentials_errors_never_show_key_material(tmp_path: Path) -> None:
    secret = "-----BEGIN PRIVATE KEY-----\nTOPSECRET-graphinv\n"
    bad = tmp_path / "key.json"
    bad.write_text(json.dumps({"type": "service_account", "private_key": secret})[:-3])  # broken JSON
    with pytest.raises(GcpConfigError) as info:
        load_credentials(str(bad))
    text = f"{info.value!r} {info.value} {info.value.__cause__!r} {info.value.__context__!r}"
    assert "TOPSECRET" not in text and str(bad) in str(info.value)
    with pytest.raises(ValidationError, match="projects"):
        plan({"credentials": "anonymous", "projects": []})
    with pytest.raises(ValidationError, match="page_size"):
        plan({"credentials": "anonymous", "projects": ["p"], "page_size": 501})
    clients = build_clients(load_credentials("anonymous"), "http://127.0.0.1:9")
    assert isinstance(clients.global_addresses, compute_v1.GlobalAddressesClient)


def test_credential_files_of_each_kind_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    sa = tmp_path / "sa.json"
    sa.write_text(json.dumps({"type": "service_account", "project_id": "p", "private_key_id": "k1",
                              "private_key": pem, "client_email": "reader@p.iam.gserviceaccount.com",
                              "token_uri": "https://oauth2.googleapis.com/token"}))
    loaded = load_credentials(str(sa))
    assert getattr(loaded, "service_account_email", None) == "reader@p.iam.gserviceaccount.com"
    wif = tmp_path / "credentialsConfig"
    wif.write_text(json.dumps({
        "type": "external_account",
        "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/g/providers/x",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": "https://sts.googleapis.com/v1/token",
        "credential_source": {"file": str(tmp_path / "token")}}))
    assert type(load_credentials(str(wif))).__module__ == "google.auth.identity_pool"
    unknown = tmp_path / "other.json"
    unknown.write_text(json.dumps({"type": "something_else"}))
    with pytest.raises(GcpConfigError):
        load_credentials(str(unknown))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(GcpConfigError) as info:
        load_credentials("adc")
    assert info.value.__context__ is None


# -- Gardener marks and providerIDs ------------------------------------------------------------
def bastion_vm_name(cluster: str, bastion: str) -> str:
    """What the GCP bastion controller names its VM: base cut to 33 chars, "-bastion-", 5 hex of sha256."""
    base = f"{cluster}-{bastion}"
    return f"{base[:33]}-bastion-{hashlib.sha256(base.encode()).hexdigest()[:5]}"


def test_gardener_marks() -> None:
    long_name = bastion_vm_name("shoot--myproject--a-long-shoot-name", "cli-abcdef12")
    assert is_bastion_name(long_name) and role_of([long_name], long_name) == "bastion"
    assert not is_bastion_name("my-bastion-host")
    tid = "shoot--dev--app"
    assert role_of([tid, f"kubernetes-io-cluster-{tid}", "kubernetes-io-role-node"], "vm") == "node"
    assert role_of(["kubernetes-io-role-node"], "vm") is None
    assert cluster_of({"k8s-cluster-name": tid}) == tid
    assert cluster_of({}, [f"kubernetes-io-cluster-{tid}"]) == tid
    assert cluster_of({"k8s-cluster-name": "gke-thing"}) is None


def test_provider_id_forms() -> None:
    project = "gl-core-prod-01"
    assert instance_uid_from_provider_id(f"gce://{project}/europe-west1-b/vm") == uid("europe-west1-b", "vm", project)
    # machine-controller-manager-provider-gcp writes three slashes, and so does the collector
    from collectors.gcp.provider_id import format_provider_id
    written = format_provider_id(project, "europe-west1-b", "vm")
    assert written == f"gce:///{project}/europe-west1-b/vm"
    assert instance_uid_from_provider_id(written) == uid("europe-west1-b", "vm", project)
    assert instance_uid_from_provider_id("aws:///eu-west-1a/i-1") is None
    assert instance_uid_from_provider_id(f"gce://{project}/zone") is None


def test_the_lower_layer_sends_what_the_sdk_clients_send() -> None:
    # collectors/gcp/rest.py sends the list GETs itself through the client's transport, and names the
    # API version the installed google-cloud-compute sends (rest.API_VERSION). Page for page, path,
    # query and headers must equal the client's own: a google-cloud-compute release that changes any
    # of them (a new API version above all) fails here rather than going unnoticed.
    seen: list[tuple[str, str, dict[str, list[str]], dict[str, str]]] = []

    def handle(request: Request) -> Response:
        seen.append((request.method, request.path, request.query, request.headers))
        token = {} if request.arg("pageToken") else {"nextPageToken": "page-2"}
        return Response.json({"kind": "compute#list", **token})

    server = SimHTTPServer(handle).start()
    try:
        clients = build_clients(load_credentials("anonymous"), server.url)
        sent: dict[str, list[Any]] = {}
        for who, read in (
                ("sdk", lambda: [*clients.instances.aggregated_list(request={"project": "p-1", "max_results": 7}),
                                 *clients.global_addresses.list(request={"project": "p-1", "max_results": 7})]),
                ("lower layer", lambda: [*aggregated_items(clients.instances, "p-1", "instances", "VMs", page_size=7),
                                         *global_address_items(clients.global_addresses, "p-1", "IPs", page_size=7)])):
            seen.clear()
            assert read() == []
            sent[who] = list(seen)
    finally:
        server.stop()
    assert [(path, query.get("pageToken")) for _method, path, query, _headers in sent["sdk"]] == [
        ("/compute/v1/projects/p-1/aggregated/instances", None),
        ("/compute/v1/projects/p-1/aggregated/instances", ["page-2"]),
        ("/compute/v1/projects/p-1/global/addresses", None),
        ("/compute/v1/projects/p-1/global/addresses", ["page-2"])]
    assert sent["lower layer"] == sent["sdk"]
    assert all(headers["x-goog-api-version"] == API_VERSION for *_rest, headers in sent["sdk"])


# -- Google's recorded responses, served unchanged ---------------------------------------------
SAMPLES = {
    "/compute/v1/projects/gcpdiag-gce1-aaaa/aggregated/instances": "gcpdiag-gce1-compute-instances-aggregated.json",
    "/compute/v1/projects/gcpdiag-gce1-aaaa/zones/europe-west1-b/instances":
        "gcpdiag-gce1-compute-instances-list-europe-west1-b-2.json",
    "/compute/v1/projects/gcpdiag-gce1-aaaa/zones/europe-west1-b/disks":
        "gcpdiag-gce1-compute-disks-list-europe-west1-b.json",
    "/compute/v1/projects/gcpdiag-gke1-aaaa/aggregated/addresses": "gcpdiag-gke1-compute-addresses-aggregated.json",
}


@pytest.fixture
def sample_server(shared_samples: Path) -> Iterator[tuple[str, Path]]:
    folder = shared_samples / "gcp"

    def handle(request: Request) -> Response:
        name = SAMPLES.get(request.path)
        if name is not None:
            return Response(200, (folder / name).read_bytes(), {"Content-Type": "application/json"})
        if request.path.endswith("/global/addresses"):
            # No recorded sample exists for this list; an empty one lets collect_addresses finish.
            return Response.json({"kind": "compute#addressList", "id": request.path})
        return Response.json({"error": {"code": 404, "message": "not recorded"}}, 404)

    server = SimHTTPServer(handle).start()
    yield server.url, folder
    server.stop()


def sample_clients(url: str) -> Any:
    return build_clients(load_credentials("anonymous"), url)


def test_sample_aggregated_instances(sample_server: tuple[str, Path]) -> None:
    url, folder = sample_server
    sample = folder / SAMPLES["/compute/v1/projects/gcpdiag-gce1-aaaa/aggregated/instances"]
    # The recording holds the member "zones/europe-west4-a" twice (a warning, later the instances);
    # the SDK's protobuf JSON parser refuses duplicate keys, so served unchanged it cannot be read.
    with pytest.raises(ParseError, match="duplicate key zones/europe-west4-a"):
        list(collect_instances(sample_clients(url).instances, "gcpdiag-gce1-aaaa"))
    # Re-serialised by Python's json (which, like most readers, keeps the last duplicate) it is
    # the same data with one key each: that is what the mapping runs on here.
    raw = json.loads(sample.read_text())
    server = SimHTTPServer(lambda _request: Response.json(raw)).start()
    try:
        records = list(collect_instances(sample_clients(server.url).instances, "gcpdiag-gce1-aaaa"))
    finally:
        server.stop()
    raw_instances = {uid(src["zone"].rsplit("/", 1)[1], src["name"], "gcpdiag-gce1-aaaa"): src
                     for scoped in raw["items"].values() for src in scoped.get("instances", [])}
    instances = {r.uid: r for r in records if isinstance(r, InstanceRecord)}
    assert set(instances) == set(raw_instances) and len(instances) == 6
    for key, rec in instances.items():
        src = raw_instances[key]
        assert rec.instance_type == src["machineType"].rsplit("/", 1)[1]
        assert rec.state == src["status"].lower() and rec.status == "running"
        assert rec.tags == src.get("labels", {})
        assert rec.private_ip == src["networkInterfaces"][0]["networkIP"]
        assert rec.created is not None and rec.created.isoformat()[:19] == src["creationTimestamp"][:19]
        assert rec.role is None and rec.cluster is None  # GKE and plain VMs are not Gardener's
    nat = {ac["natIP"]: key for key, src in raw_instances.items() for nic in src["networkInterfaces"]
           for ac in nic.get("accessConfigs", []) if "natIP" in ac}
    ips = {r.address: r.instance_ref for r in records if isinstance(r, IPRecord)}
    assert ips == nat and nat  # the sample has a GKE node with an external NAT IP


def test_sample_zonal_instance_list(sample_server: tuple[str, Path]) -> None:
    url, folder = sample_server
    path = "/compute/v1/projects/gcpdiag-gce1-aaaa/zones/europe-west1-b/instances"
    raw = json.loads((folder / SAMPLES[path]).read_text())["items"]
    listed = list(sample_clients(url).instances.list(project="gcpdiag-gce1-aaaa", zone="europe-west1-b"))
    records = [instance_record("gcpdiag-gce1-aaaa", inst) for inst in listed]
    assert [r.name for r in records] == [i["name"] for i in raw]
    for rec, src in zip(records, raw, strict=True):
        assert rec.zone == "europe-west1-b" and rec.region == "europe-west1"
        nats = [ac["natIP"] for nic in src["networkInterfaces"] for ac in nic.get("accessConfigs", [])
                if "natIP" in ac]
        assert rec.public_ip == (nats[0] if nats else None)
        assert rec.network == src["networkInterfaces"][0]["network"].rsplit("/", 1)[1]


def test_sample_zonal_disk_list(sample_server: tuple[str, Path]) -> None:
    url, folder = sample_server
    path = "/compute/v1/projects/gcpdiag-gce1-aaaa/zones/europe-west1-b/disks"
    raw = json.loads((folder / SAMPLES[path]).read_text())["items"]
    listed = list(sample_clients(url).disks.list(project="gcpdiag-gce1-aaaa", zone="europe-west1-b"))
    records = [disk_record("gcpdiag-gce1-aaaa", d) for d in listed]
    assert len(records) == len(raw) > 0
    for rec, src in zip(records, raw, strict=True):
        assert rec.uid == f"projects/gcpdiag-gce1-aaaa/zones/europe-west1-b/disks/{src['name']}"
        assert rec.size_gb == int(src["sizeGb"]) and rec.disk_type == src["type"].rsplit("/", 1)[1]
        assert rec.boot == ("sourceImage" in src)
        users = [u.split("/compute/v1/", 1)[1] for u in src.get("users", [])]
        assert rec.attached_instances == users and rec.instance_ref == (users[0] if users else None)
        assert rec.attached == bool(users) and rec.tags == src.get("labels", {})
        assert (rec.last_attached is not None) == ("lastAttachTimestamp" in src)


def test_sample_aggregated_addresses(sample_server: tuple[str, Path]) -> None:
    url, folder = sample_server
    clients = sample_clients(url)
    raw = json.loads((folder / SAMPLES["/compute/v1/projects/gcpdiag-gke1-aaaa/aggregated/addresses"]).read_text())
    raw_addresses = [a for scoped in raw["items"].values() for a in scoped.get("addresses", [])]
    # Every address in this recording is INTERNAL, so none of them is a public IP record.
    assert all(a["addressType"] == "INTERNAL" for a in raw_addresses)
    assert list(collect_addresses(clients.addresses, clients.global_addresses, "gcpdiag-gke1-aaaa")) == []
    # The mapping itself, applied to each address as the SDK parsed it:
    parsed = [a for _s, scoped in clients.addresses.aggregated_list(project="gcpdiag-gke1-aaaa")
              for a in scoped.addresses]
    records = {r.uid: r for r in (address_record("gcpdiag-gke1-aaaa", a) for a in parsed)}
    assert len(records) == len(raw_addresses) == 4  # protobuf maps keep no order: compare by key
    for src in raw_addresses:
        region = src["region"].rsplit("/", 1)[1]
        rec = records[f"projects/gcpdiag-gke1-aaaa/regions/{region}/addresses/{src['name']}"]
        assert rec.address == src["address"] and rec.region == region
        assert rec.state == src["status"].lower()
        assert rec.attached == (src["status"] == "IN_USE")
        users = [u.split("/compute/v1/", 1)[1] for u in src.get("users", [])]
        assert rec.attached_to == (users[0] if users else None)
        assert rec.instance_ref is None  # the one user here is a forwarding rule
