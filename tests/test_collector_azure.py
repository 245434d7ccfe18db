"""The Azure collector against the simulated Azure (real SDKs over https), and its mapping of the
official Azure REST examples served unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.paging import PageIterator
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient
from pydantic import ValidationError

from collectors.azure import collect_disks, collect_instances, collect_ips, plan
from collectors.azure.arm import VIRTUAL_MACHINES_API, arm_items, subscription_path
from collectors.azure.auth import build_credential
from collectors.azure.common import AzureReadError
from collectors.azure.disks import disk_record
from collectors.azure.ids import key, parse
from collectors.azure.instances import instance_record
from collectors.azure.network import nic_index
from collectors.azure.settings import AzureSettings
from collectors.records import CloudAccountRecord, DiskRecord, InstanceRecord, IPRecord, Record, RegionRecord
from graphinv.ingest.engine import record_row
from graphinv.sim.azure import AzureSim
from graphinv.sim.http import Request, Response, SimHTTPServer
from graphinv.sim.tls import self_signed_cert
from tests.support.azure_landscapes import (
    BLUE,
    SUB_FORBIDDEN,
    SUB_MAIN,
    SUB_THROTTLED,
    start_sim,
    vm_name,
)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureSim]:
    running = start_sim(tmp_path_factory.mktemp("azure-collector"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def results(sim: AzureSim) -> dict[str, list[Record] | BaseException]:
    """Every scope of plan(source_config()) run once: scope key -> records, or the error it raised."""
    out: dict[str, list[Record] | BaseException] = {}
    for task in plan(sim.source_config()):
        try:
            out[task.scope.key] = list(task.fetch())
        except Exception as exc:
            out[task.scope.key] = exc
    return out


def records(results: dict[str, list[Record] | BaseException], subscription: str, kind: str) -> list[Any]:
    value = results[f"azure:{subscription}:global:{kind}"]
    assert not isinstance(value, BaseException), f"scope failed: {value!r}"
    return value


def by_name(items: list[Any]) -> dict[str, Any]:
    return {r.name: r for r in items}


def vm_uid(key_: str) -> str:
    name = vm_name(key_)
    rg = BLUE if name.startswith(BLUE) else "rg-westeurope"
    return f"/subscriptions/{SUB_MAIN}/resourcegroups/{rg}/providers/microsoft.compute/virtualmachines/{name}"


# -- plan and scopes ----------------------------------------------------------------------------
def test_plan_makes_one_scope_per_subscription_and_kind(sim: AzureSim) -> None:
    tasks = plan(sim.source_config())
    assert sorted(t.scope.key for t in tasks) == sorted(
        f"azure:{s}:global:{k}" for s in (SUB_MAIN, SUB_FORBIDDEN, SUB_THROTTLED)
        for k in ("Instance", "Disk", "IP", "MachineType"))
    for task in tasks:
        assert task.context == [CloudAccountRecord(uid=f"azure:{task.scope.account}", provider="azure",
                                                   account_id=task.scope.account)]


def test_forbidden_subscription_fails_only_its_own_scopes(results: dict[str, Any]) -> None:
    failed = {k for k, v in results.items() if isinstance(v, BaseException)}
    assert failed == {f"azure:{SUB_FORBIDDEN}:global:{k}" for k in ("Instance", "Disk", "IP", "MachineType")}
    for error in (results[k] for k in failed):
        # One line naming the list and ARM's answer (status and code), not the SDK's multi-line error.
        assert isinstance(error, AzureReadError) and "HTTP 403 AuthorizationFailed" in str(error)
        assert "\n" not in str(error)


def test_throttled_subscription_completes_after_retries(sim: AzureSim, results: dict[str, Any]) -> None:
    assert [r.name for r in records(results, SUB_THROTTLED, "Instance")] == ["throttled-vm"]
    # Two 429s, then the seven list requests of its scopes (Instance: NICs, public IPs, VMs; Disk: disks;
    # IP: NICs, public IPs; MachineType: resource SKUs), each a single page.
    assert sim.throttle.throttled_count(SUB_THROTTLED) == 2 + 7


def test_errors_do_not_carry_the_client_secret(sim: AzureSim, results: dict[str, Any]) -> None:
    secret = sim.source_config()["credential"]["client_secret"]
    for value in results.values():
        if isinstance(value, BaseException):
            assert secret not in str(value) and secret not in repr(value)


# -- instances ----------------------------------------------------------------------------------
def test_instances_read_back_as_the_landscape_says(sim: AzureSim, results: dict[str, Any]) -> None:
    instances: dict[str, InstanceRecord] = by_name(records(results, SUB_MAIN, "Instance"))
    assert set(instances) == {vm_name(k) for k in ("w1", "w2", "b1", "jump", "ne1")}
    worker = instances[vm_name("w1")]
    assert worker.uid == vm_uid("w1")
    assert (worker.provider, worker.account_id, worker.region, worker.zone) == (
        "azure", SUB_MAIN, "westeurope", "2")
    assert (worker.state, worker.status, worker.instance_type) == ("running", "running", "Standard_D4s_v3")
    row = record_row(worker)["props"]  # the engine derives the account, region and shoot keys
    assert (worker.cluster, row["shoot_ref"], worker.role) == (BLUE, BLUE, "node")
    assert worker.cluster_name_key == f"{BLUE}/{vm_name('w1')}"
    assert worker.provider_id == sim.provider_ids()["w1"]
    assert (row["account_ref"], row["region_ref"]) == (f"azure:{SUB_MAIN}", "azure:westeurope")
    assert worker.network == BLUE
    assert worker.private_ip is not None and worker.private_ip.startswith("10.250.")
    assert worker.public_ip is None

    assert (instances[vm_name("w2")].state, instances[vm_name("w2")].status) == ("deallocated", "deallocated")
    assert (instances["jumphost"].state, instances["jumphost"].status) == ("stopped", "stopped")
    assert (instances["jumphost"].cluster, instances["jumphost"].role) == (None, None)
    assert instances["jumphost"].tags == {"owner": "ops"}
    assert instances["jumphost"].public_ip == "20.1.2.3"
    assert instances["vm-north"].region == "northeurope"


def test_bastion_is_recognised_by_resource_group_and_tags(results: dict[str, Any]) -> None:
    bastion: InstanceRecord = by_name(records(results, SUB_MAIN, "Instance"))[vm_name("b1")]
    assert (bastion.role, bastion.cluster) == ("bastion", BLUE)  # it carries no cluster tag
    ips: dict[str, IPRecord] = by_name(records(results, SUB_MAIN, "IP"))
    assert bastion.public_ip == ips[f"{vm_name('b1')}-pip"].address


def test_provider_ids_match_what_the_simulator_hands_to_machines(sim: AzureSim, results: dict[str, Any]) -> None:
    instances = records(results, SUB_MAIN, "Instance")
    expected = {v for k, v in sim.provider_ids().items() if k in {"w1", "w2", "b1", "jump", "ne1"}}
    assert {i.provider_id for i in instances} == expected
    # A Machine's providerID leads to the instance's uid by dropping the scheme and lower-casing.
    for instance in instances:
        assert key(instance.provider_id.removeprefix("azure://")) == instance.uid


# -- disks --------------------------------------------------------------------------------------
def test_disks_are_attached_to_the_right_instances(results: dict[str, Any]) -> None:
    disks: dict[str, DiskRecord] = by_name(records(results, SUB_MAIN, "Disk"))
    instance_uids = {i.uid for i in records(results, SUB_MAIN, "Instance")}
    w1 = vm_name("w1")
    os_disk = disks[f"{w1}-os-disk"]
    assert (os_disk.boot, os_disk.attached, os_disk.state) == (True, True, "attached")
    assert os_disk.instance_ref == vm_uid("w1") and os_disk.attached_instances == [vm_uid("w1")]
    assert (os_disk.cluster, os_disk.size_gb, os_disk.zone) == (BLUE, 50, "2")
    assert os_disk.last_attached is not None and os_disk.last_detached is None
    data = disks[f"{w1}-w1-data-0-data-disk"]
    assert (data.boot, data.size_gb, data.instance_ref) == (False, 100, vm_uid("w1"))
    spare = disks["jumphost-spare-0-data-disk"]  # a data disk is named like MCM names them
    assert (spare.instance_ref, spare.attached, spare.cluster) == (vm_uid("jump"), True, None)
    reserved = disks[f"{vm_name('w2')}-os-disk"]
    assert (reserved.state, reserved.attached, reserved.instance_ref) == ("reserved", True, vm_uid("w2"))
    for disk in disks.values():
        if disk.instance_ref is not None:
            assert disk.instance_ref in instance_uids


def test_unattached_disks_leftovers_and_csi_volumes(results: dict[str, Any]) -> None:
    disks: dict[str, DiskRecord] = by_name(records(results, SUB_MAIN, "Disk"))
    leftover = disks[f"{vm_name('gone')}-os-disk"]
    assert (leftover.attached, leftover.instance_ref, leftover.state, leftover.boot) == (
        False, None, "unattached", True)
    assert leftover.cluster == BLUE and leftover.last_detached is not None
    volume = disks["pv-shoot--dev--blue-0f3c"]
    assert (volume.attached, volume.cluster, volume.disk_type, volume.boot) == (False, BLUE, "Premium_LRS", False)


# -- public IPs ---------------------------------------------------------------------------------
def test_public_ips_resolve_through_nics_to_instances(results: dict[str, Any]) -> None:
    ips: dict[str, IPRecord] = by_name(records(results, SUB_MAIN, "IP"))
    bastion_ip = ips[f"{vm_name('b1')}-pip"]
    # The ip configuration id says `resourcegroups`, the NIC names its VM with an upper-cased group.
    assert bastion_ip.attached_to is not None and "/resourcegroups/" in bastion_ip.attached_to
    assert bastion_ip.instance_ref == vm_uid("b1")
    assert (bastion_ip.allocation, bastion_ip.attached, bastion_ip.cluster) == ("dynamic", True, BLUE)
    jump_ip = ips["jump-ip"]
    assert (jump_ip.address, jump_ip.instance_ref, jump_ip.allocation) == ("20.1.2.3", vm_uid("jump"), "static")
    nat = ips[f"{BLUE}-nat-gateway-z1-ip"]
    assert (nat.attached, nat.instance_ref, nat.cluster) == (False, None, BLUE)
    leaked = ips["old-lb-ip"]
    assert (leaked.attached, leaked.address, leaked.cluster) == (False, "20.9.9.9", None)


# -- config -------------------------------------------------------------------------------------
def test_regions_filter_and_region_context(sim: AzureSim) -> None:
    section = {**sim.source_config(), "subscriptions": [SUB_MAIN], "regions": ["NorthEurope"]}
    tasks = {t.scope.kind: t for t in plan(section)}
    assert RegionRecord(uid="azure:northeurope", provider="azure", name="northeurope") in tasks["Instance"].context
    assert [getattr(r, "name", None) for r in tasks["Instance"].fetch()] == ["vm-north"]
    assert list(tasks["IP"].fetch()) == []


def test_client_secret_can_come_from_a_file(sim: AzureSim, tmp_path: Path) -> None:
    config = sim.source_config()
    secret_file = tmp_path / "secret"
    secret_file.write_text(config["credential"]["client_secret"] + "\n")
    credential = {k: v for k, v in config["credential"].items() if k != "client_secret"}
    section = {**config, "subscriptions": [SUB_MAIN],
               "credential": {**credential, "client_secret_file": str(secret_file)}}
    disks = next(t for t in plan(section) if t.scope.kind == "Disk")
    assert len(list(disks.fetch())) == 9


def test_config_errors_name_the_problem_not_the_secret() -> None:
    subscriptions = ["s"]
    with pytest.raises(ValidationError, match="client_id"):
        AzureSettings.model_validate({"subscriptions": subscriptions, "credential": {
            "type": "client_secret", "tenant_id": "t", "client_secret": "s3cr3t-value"}})
    with pytest.raises(ValidationError, match=r"credential\.type") as info:
        AzureSettings.model_validate({"subscriptions": subscriptions, "credential": {
            "type": "certificate", "client_secret": "s3cr3t-value"}})
    assert "s3cr3t-value" not in str(info.value)
    assert "s3cr3t-value" not in repr(AzureSettings.model_validate({"subscriptions": subscriptions, "credential": {
        "type": "client_secret", "tenant_id": "t", "client_id": "c", "client_secret": "s3cr3t-value"}}))
    with pytest.raises(ValidationError, match="subscription"):
        plan({"credential": {"type": "default"}})
    with pytest.raises(ValidationError, match="lists no subscription"):
        plan({"subscriptions": []})


def test_ids_parse_case_insensitively() -> None:
    parsed = parse("/SUBSCRIPTIONS/s/resourcegroups/RG/providers/Microsoft.Network/networkInterfaces/n/"
                   "ipConfigurations/c")
    assert parsed is not None and parsed.is_type("microsoft.network", "NETWORKINTERFACES")
    assert parsed.children == (("ipConfigurations", "c"),)
    assert key(parsed.top_level) == "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/networkinterfaces/n"
    assert parse("/subscriptions/s/resourceGroups/rg") is None
    assert parse("/subscriptions/s/resourceGroups/rg/providers/NS/type") is None


# -- the official Azure REST examples, served unchanged -----------------------------------------
class StaticToken:
    """A TokenCredential of our own for the example server, which checks no token."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("example-token", 4_102_444_800)


def sample_body(samples: Path, name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((samples / "azure" / name).read_text())["responses"]["200"]["body"]
    return body


@pytest.fixture
def example_server(shared_samples: Path, tmp_path: Path) -> Iterator[tuple[SimHTTPServer, Path, Path]]:
    routes = {
        "/subscriptions/max/providers/microsoft.compute/virtualmachines": "vm-listall-maximumset.json",
        "/subscriptions/min/providers/microsoft.compute/virtualmachines": "vm-listall-minimumset.json",
        "/subscriptions/loc/providers/microsoft.compute/locations/eastus/virtualmachines":
            "vm-listbysubscription-bylocation.json",
        "/subscriptions/s/providers/microsoft.compute/disks": "disks-listbysubscription.json",
        "/subscriptions/s/resourcegroups/myresourcegroup/providers/microsoft.compute/disks/mymanageddisk":
            "disk-get-with-managedby.json",
        "/subscriptions/s/providers/microsoft.network/networkinterfaces": "nic-listall.json",
        "/subscriptions/s/providers/microsoft.network/publicipaddresses": "publicip-listall.json",
    }
    bodies = {path: json.dumps(sample_body(shared_samples, name)).encode() for path, name in routes.items()}

    def handle(request: Request) -> Response:
        body = bodies.get(request.path.lower())
        if body is None:
            return Response.json({"error": {"code": "NotFound", "message": request.path}}, 404)
        return Response(200, body, {"Content-Type": "application/json"})

    cert = self_signed_cert(tmp_path / "tls")
    server = SimHTTPServer(handle, tls=cert.tls, name="azure-examples").start()
    yield server, cert.cert, shared_samples
    server.stop()


def _compute(server: SimHTTPServer, cert: Path, subscription: str) -> ComputeManagementClient:
    return ComputeManagementClient(StaticToken(), subscription, base_url=server.url, connection_verify=str(cert))


def _network(server: SimHTTPServer, cert: Path) -> NetworkManagementClient:
    return NetworkManagementClient(StaticToken(), "s", base_url=server.url, connection_verify=str(cert))


def first_page(client: Any, provider_path: str, api_version: str, count: int,
               params: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The first `count` items of an ARM list, as JSON (the next page is not asked for)."""
    return list(islice(arm_items(client, subscription_path(client, provider_path), api_version, "example", 3, params),
                       count))


def test_example_vm_lists_map_to_instances(example_server: tuple[SimHTTPServer, Path, Path]) -> None:
    server, cert, samples = example_server
    nics = nic_index(_network(server, cert))
    # The examples' nextLinks point nowhere real, so only their first page is read.
    expected = sample_body(samples, "vm-listall-maximumset.json")["value"]
    maximum = first_page(_compute(server, cert, "max"), "Microsoft.Compute/virtualMachines", VIRTUAL_MACHINES_API,
                         len(expected), {"statusOnly": "true"})
    records_max = [instance_record(vm, "max", nics, {}) for vm in maximum]
    assert [r.uid for r in records_max] == [key(vm["id"]) for vm in expected]
    assert [r.instance_type for r in records_max] == [vm["properties"]["hardwareProfile"]["vmSize"]
                                                      for vm in expected]
    assert [r.zone for r in records_max] == [(vm.get("zones") or [None])[0] for vm in expected]
    assert all(r.status == "unknown" and r.cluster is None and r.role is None for r in records_max)

    minimum = first_page(_compute(server, cert, "min"), "Microsoft.Compute/virtualMachines", VIRTUAL_MACHINES_API,
                         len(sample_body(samples, "vm-listall-minimumset.json")["value"]))
    records_min = [instance_record(vm, "min", nics, {}) for vm in minimum]
    assert [r.region for r in records_min] == ["eastus", "eastus"]
    assert all(r.provider_id and r.provider_id.startswith("azure:///subscriptions/") for r in records_min)

    # The mappers read the SDK's own models as well (a model is a mapping of the same JSON).
    by_location = list(_compute(server, cert, "loc").virtual_machines.list_by_location("eastus"))
    records_loc = [instance_record(vm, "loc", nics, {}) for vm in by_location]
    assert [r.tags for r in records_loc] == [{"RG": "rg", "testTag": "1"}] * 2
    assert {r.instance_type for r in records_loc} == {"Standard_A0"}


def test_example_disks_map_to_disk_records(example_server: tuple[SimHTTPServer, Path, Path]) -> None:
    server, cert, samples = example_server
    compute = _compute(server, cert, "s")
    pager = compute.disks.list().by_page()
    first_page = list(next(pager))
    assert isinstance(pager, PageIterator)
    expected = sample_body(samples, "disks-listbysubscription.json")
    assert pager.continuation_token == expected["nextLink"]
    disks = [disk_record(d, "s") for d in first_page]
    assert [d.size_gb for d in disks] == [d["properties"]["diskSizeGB"] for d in expected["value"]]
    assert [d.attached for d in disks] == [False, False, False]
    assert all(d.boot for d in disks)  # every example disk carries osType
    assert disks[0].tags == {"department": "Development", "project": "ManagedDisks"}
    assert disks[0].created is not None and disks[0].created.year == 2016

    owned = disk_record(compute.disks.get("myResourceGroup", "myManagedDisk"), "s")
    raw = sample_body(samples, "disk-get-with-managedby.json")
    assert owned.instance_ref == raw["managedBy"].lower()
    assert (owned.attached, owned.disk_type, owned.size_gb) == (True, "Standard_LRS", 10)
    assert owned.last_attached is not None and owned.last_detached is None


def test_example_nics_and_public_ips_map_to_ip_records(example_server: tuple[SimHTTPServer, Path, Path]) -> None:
    server, cert, samples = example_server
    network = _network(server, cert)
    nics = nic_index(network)
    nic = nics[key("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/"
                   "Microsoft.Network/networkInterfaces/test-nic")]
    assert nic.vm_key == key("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/"
                             "providers/Microsoft.Compute/virtualMachines/vm1")
    assert (nic.private_ip, nic.network) == ("172.20.2.4", "rg1-vnet")
    assert len(nic.public_ip_keys) == 1
    ips = by_name(list(collect_ips(network, "s")))
    raw = {ip["name"]: ip for ip in sample_body(samples, "publicip-listall.json")["value"]}
    assert set(ips) == set(raw)
    for name, ip in ips.items():
        assert ip.address == raw[name]["properties"].get("ipAddress")
        assert ip.attached_to == raw[name]["properties"]["ipConfiguration"]["id"]
        assert ip.allocation == "dynamic" and ip.attached
    # A NIC the example does not list (testDNS649) and load balancer frontends resolve to no VM.
    assert all(ip.instance_ref is None for ip in ips.values())


def test_collect_functions_work_on_plain_clients(sim: AzureSim) -> None:
    cred = build_credential(AzureSettings.model_validate(sim.source_config()))
    compute = ComputeManagementClient(cred, SUB_MAIN, base_url=sim.url, connection_verify=str(sim.cert))
    network = NetworkManagementClient(cred, SUB_MAIN, base_url=sim.url, connection_verify=str(sim.cert))
    assert len(list(collect_instances(compute, network, SUB_MAIN))) == 5
    assert len(list(collect_disks(compute, SUB_MAIN))) == 9  # 6 OS disks, a data disk, a volume, a spare
    assert len(list(collect_ips(network, SUB_MAIN))) == 4
