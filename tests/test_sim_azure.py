"""The simulated Azure, read with the real azure-identity and azure-mgmt SDKs over https."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError
from azure.identity import ClientSecretCredential, WorkloadIdentityCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient

from graphinv.sim.azure import AzureSim
from graphinv.sim.landscape import parse_landscape
from tests.support.azure_landscapes import BLUE, LANDSCAPE, SUB_FORBIDDEN, SUB_MAIN, SUB_THROTTLED, start_sim, vm_name

SERVED_VMS = {"w1", "w2", "b1", "jump", "ne1"}  # `gone` is terminated: Azure no longer lists it


def credential_for(sim: AzureSim) -> ClientSecretCredential:
    cred = sim.source_config()["credential"]
    return ClientSecretCredential(
        cred["tenant_id"], cred["client_id"], cred["client_secret"], authority=cred["authority"],
        disable_instance_discovery=True, connection_verify=str(sim.cert),
    )


def compute_for(sim: AzureSim, subscription: str) -> ComputeManagementClient:
    return ComputeManagementClient(credential_for(sim), subscription, base_url=sim.url,
                                   connection_verify=str(sim.cert))


def network_for(sim: AzureSim, subscription: str) -> NetworkManagementClient:
    return NetworkManagementClient(credential_for(sim), subscription, base_url=sim.url,
                                   connection_verify=str(sim.cert))


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureSim]:
    running = start_sim(tmp_path_factory.mktemp("azure-sim"))
    yield running
    running.stop()


# -- auth ---------------------------------------------------------------------------------------
def test_real_client_secret_credential_gets_a_token_from_the_simulated_authority(sim: AzureSim) -> None:
    token = credential_for(sim).get_token("https://management.azure.com/.default")
    assert token.token and token.expires_on > 0


def test_wrong_client_secret_is_refused_without_echoing_it(sim: AzureSim) -> None:
    cred = sim.source_config()["credential"]
    wrong = "not-the-secret-" + "x" * 12
    credential = ClientSecretCredential(cred["tenant_id"], cred["client_id"], wrong, authority=sim.url,
                                        disable_instance_discovery=True, connection_verify=str(sim.cert))
    with pytest.raises(ClientAuthenticationError) as info:
        credential.get_token("https://management.azure.com/.default")
    assert wrong not in str(info.value)
    assert cred["client_secret"] not in str(info.value)


def test_workload_identity_credential_with_a_federated_token_file(sim: AzureSim) -> None:
    cred = sim.source_config()["credential"]
    credential = WorkloadIdentityCredential(
        tenant_id=cred["tenant_id"], client_id=cred["client_id"], token_file_path=str(sim.federated_token_file),
        authority=sim.url, disable_instance_discovery=True, connection_verify=str(sim.cert),
    )
    compute = ComputeManagementClient(credential, SUB_MAIN, base_url=sim.url, connection_verify=str(sim.cert))
    assert {vm.name for vm in compute.virtual_machines.list_all()} == {vm_name(k) for k in SERVED_VMS}


def test_arm_refuses_requests_without_a_token_or_api_version(sim: AzureSim) -> None:
    url = f"{sim.url}/subscriptions/{SUB_MAIN}/providers/Microsoft.Compute/virtualMachines"
    with httpx.Client(verify=ssl.create_default_context(cafile=str(sim.cert))) as http:
        unauthenticated = http.get(url, params={"api-version": "2025-04-01"})
        assert unauthenticated.status_code == 401
        token = credential_for(sim).get_token("https://management.azure.com/.default").token
        headers = {"Authorization": f"Bearer {token}"}
        assert http.get(url, headers=headers).status_code == 400
        assert http.get(url, headers={"Authorization": "Bearer forged"},
                        params={"api-version": "2025-04-01"}).status_code == 401
        assert http.get(url, headers=headers, params={"api-version": "2025-04-01"}).status_code == 200


def test_the_certificate_is_really_checked(sim: AzureSim) -> None:
    # Without the simulator's CA the TLS handshake must fail: the https is real.
    compute = ComputeManagementClient(credential_for(sim), SUB_MAIN, base_url=sim.url)
    with pytest.raises(ServiceRequestError):
        list(compute.virtual_machines.list_all())


# -- what is served -----------------------------------------------------------------------------
def test_virtual_machines_read_back_as_the_landscape_says(sim: AzureSim) -> None:
    vms = {vm.name: vm for vm in compute_for(sim, SUB_MAIN).virtual_machines.list_all(status_only="true")}
    assert set(vms) == {vm_name(k) for k in SERVED_VMS}
    worker = vms[vm_name("w1")]
    assert worker.location == "westeurope"
    assert worker.zones == ["2"]
    assert worker.properties is not None and worker.properties.hardware_profile is not None
    assert worker.properties.hardware_profile.vm_size == "Standard_D4s_v3"
    assert worker.id == (f"/subscriptions/{SUB_MAIN}/resourceGroups/{BLUE}/providers/Microsoft.Compute/"
                         f"virtualMachines/{vm_name('w1')}")
    assert worker.tags == {"Name": BLUE, f"kubernetes.io-cluster-{BLUE}": "1", "kubernetes.io-role-node": "1"}
    assert vms[vm_name("b1")].tags == {"Name": vm_name("b1"), "Type": "gardenctl"}
    assert vms[vm_name("jump")].tags == {"owner": "ops"}
    assert vms["vm-north"].location == "northeurope"

    def power(name: str) -> list[str]:
        props = vms[name].properties
        assert props is not None and props.instance_view is not None
        return [s.code or "" for s in props.instance_view.statuses or [] if (s.code or "").startswith("PowerState/")]

    assert power(vm_name("w1")) == ["PowerState/running"]
    assert power(vm_name("w2")) == ["PowerState/deallocated"]
    assert power("jumphost") == ["PowerState/stopped"]


def test_instance_view_only_when_asked_for(sim: AzureSim) -> None:
    plain = list(compute_for(sim, SUB_MAIN).virtual_machines.list_all())
    assert plain and all(vm.properties is not None and vm.properties.instance_view is None for vm in plain)


def test_disk_and_nic_references_resolve_case_insensitively(sim: AzureSim) -> None:
    compute = compute_for(sim, SUB_MAIN)
    network = network_for(sim, SUB_MAIN)
    vms = {vm.name: vm for vm in compute.virtual_machines.list_all()}
    disks = {d.id.lower(): d for d in compute.disks.list() if d.id}
    nics = {n.id.lower(): n for n in network.network_interfaces.list_all() if n.id}
    worker = vms[vm_name("w1")]
    assert worker.properties is not None and worker.properties.storage_profile is not None
    os_disk = worker.properties.storage_profile.os_disk
    assert os_disk is not None and os_disk.managed_disk is not None and os_disk.managed_disk.id
    # Real Azure upper-cases the resource group here; only a case-insensitive lookup finds the disk.
    assert BLUE.upper() in os_disk.managed_disk.id
    disk = disks[os_disk.managed_disk.id.lower()]
    assert disk.name == f"{vm_name('w1')}-os-disk"
    assert disk.managed_by is not None and disk.managed_by != worker.id
    assert disk.managed_by.lower() == (worker.id or "").lower()
    data = worker.properties.storage_profile.data_disks or []
    assert [d.disk_size_gb for d in data] == [100]
    assert worker.properties.network_profile is not None
    nic_refs = worker.properties.network_profile.network_interfaces or []
    nic = nics[(nic_refs[0].id or "").lower()]
    assert nic.name == f"{vm_name('w1')}-nic"
    assert nic.properties is not None and nic.properties.virtual_machine is not None
    assert (nic.properties.virtual_machine.id or "").lower() == (worker.id or "").lower()


def test_public_ips_name_their_nic_ip_configuration(sim: AzureSim) -> None:
    network = network_for(sim, SUB_MAIN)
    ips = {ip.name: ip for ip in network.public_ip_addresses.list_all()}
    assert set(ips) == {f"{vm_name('b1')}-pip", f"{BLUE}-nat-gateway-z1-ip", "jump-ip", "old-lb-ip"}
    bastion_ip = ips[f"{vm_name('b1')}-pip"]
    assert bastion_ip.properties is not None and bastion_ip.properties.ip_configuration is not None
    config_id = bastion_ip.properties.ip_configuration.id or ""
    assert "/resourcegroups/" in config_id  # the lower-case spelling Azure uses in these references
    assert config_id.lower().endswith(f"/networkinterfaces/{vm_name('b1')}-nic/ipconfigurations/ipconfig1")
    assert ips["jump-ip"].properties is not None and ips["jump-ip"].properties.ip_address == "20.1.2.3"
    nat = ips[f"{BLUE}-nat-gateway-z1-ip"]
    assert nat.properties is not None and nat.properties.ip_configuration is None
    assert nat.tags == {"managed-by-gardener": "true", "gardener-shoot-name": BLUE}
    assert f"/resourceGroups/{BLUE}/" in (nat.id or "")
    addresses = [ip.properties.ip_address for ip in ips.values() if ip.properties]
    assert len(set(addresses)) == len(addresses)


def test_a_deleted_vm_leaves_its_disk_nic_unattached(sim: AzureSim) -> None:
    compute = compute_for(sim, SUB_MAIN)
    network = network_for(sim, SUB_MAIN)
    gone = vm_name("gone")
    disk = next(d for d in compute.disks.list() if d.name == f"{gone}-os-disk")
    assert disk.managed_by is None
    assert disk.properties is not None and disk.properties.disk_state == "Unattached"
    nic = next(n for n in network.network_interfaces.list_all() if n.name == f"{gone}-nic")
    assert nic.properties is not None and nic.properties.virtual_machine is None


def test_disks_of_a_deallocated_vm_are_reserved(sim: AzureSim) -> None:
    disk = next(d for d in compute_for(sim, SUB_MAIN).disks.list() if d.name == f"{vm_name('w2')}-os-disk")
    assert disk.properties is not None and disk.properties.disk_state == "Reserved"


def test_next_link_paging_crosses_page_boundaries(sim: AzureSim) -> None:
    before = sim.arm_requests
    names = [vm.name or "" for vm in compute_for(sim, SUB_MAIN).virtual_machines.list_all()]
    pages = sim.arm_requests - before
    assert sorted(names) == sorted(vm_name(k) for k in SERVED_VMS)
    assert len(names) == len(set(names))
    assert pages == 3  # 5 VMs in pages of 2


@pytest.mark.parametrize("count, pages", [(4, 2), (5, 3), (1, 1)])
def test_paging_stops_exactly_at_the_last_item(tmp_path: Path, count: int, pages: int) -> None:
    data = {"accounts": [{"provider": "azure", "id": "sub-paging", "regions": [{"name": "westeurope", "instances": [
        {"key": f"vm{i}", "name": f"vm-{i:03d}"} for i in range(count)]}]}]}
    sim = start_sim(tmp_path, data, page_size=2)
    try:
        names = [vm.name for vm in compute_for(sim, "sub-paging").virtual_machines.list_all()]
        assert names == [f"vm-{i:03d}" for i in range(count)]
        assert sim.arm_requests == pages
    finally:
        sim.stop()


def test_forbidden_subscription_answers_403_authorization_failed(sim: AzureSim) -> None:
    with pytest.raises(HttpResponseError) as info:
        list(compute_for(sim, SUB_FORBIDDEN).virtual_machines.list_all())
    assert info.value.status_code == 403
    assert info.value.error is not None and info.value.error.code == "AuthorizationFailed"
    # The other subscriptions still answer.
    assert list(compute_for(sim, SUB_MAIN).disks.list())


def test_unknown_subscription_is_not_found(sim: AzureSim) -> None:
    with pytest.raises(HttpResponseError) as info:
        list(compute_for(sim, "no-such-subscription").disks.list())
    assert info.value.status_code == 404


def test_throttled_subscription_is_retried_by_the_sdk_until_it_succeeds(tmp_path: Path) -> None:
    sim = start_sim(tmp_path)
    try:
        names = [vm.name for vm in compute_for(sim, SUB_THROTTLED).virtual_machines.list_all()]
        assert names == ["throttled-vm"]
        # Two 429 answers with Retry-After, then the successful third request, all from one call.
        assert sim.throttle.throttled_count(SUB_THROTTLED) == 3
        assert sim.arm_requests == 3
    finally:
        sim.stop()


def test_retries_are_bounded_so_a_permanently_throttled_scope_fails(tmp_path: Path) -> None:
    data = {"accounts": [{"provider": "azure", "id": "sub-hot", "throttle_times": 1000,
                          "regions": [{"name": "westeurope"}]}]}
    sim = start_sim(tmp_path, data)
    try:
        compute = ComputeManagementClient(credential_for(sim), "sub-hot", base_url=sim.url,
                                          connection_verify=str(sim.cert), retry_total=2, retry_backoff_max=1)
        with pytest.raises(HttpResponseError) as info:
            list(compute.disks.list())
        assert info.value.status_code == 429
        assert sim.throttle.throttled_count("sub-hot") == 3  # the first try and two retries
    finally:
        sim.stop()


# -- runtime contract ---------------------------------------------------------------------------
def test_provider_ids_and_source_config(sim: AzureSim) -> None:
    ids = sim.provider_ids()
    assert set(ids) == SERVED_VMS | {"gone", "x1", "t1"}
    assert ids["w1"] == (f"azure:///subscriptions/{SUB_MAIN}/resourceGroups/{BLUE}/providers/"
                         f"Microsoft.Compute/virtualMachines/{vm_name('w1')}")
    assert ids["jump"].startswith(f"azure:///subscriptions/{SUB_MAIN}/resourceGroups/rg-westeurope/")
    config = sim.source_config()
    assert config["base_url"] == sim.url and config["base_url"].startswith("https://127.0.0.1:")
    assert Path(config["connection_verify"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert config["subscriptions"] == [SUB_MAIN, SUB_FORBIDDEN, SUB_THROTTLED]
    assert config["credential"]["type"] == "client_secret"


def test_ids_are_deterministic(tmp_path: Path) -> None:
    first = AzureSim(parse_landscape(LANDSCAPE), tmp_path / "a")
    second = AzureSim(parse_landscape(LANDSCAPE), tmp_path / "b")
    assert first.provider_ids() == second.provider_ids()
    vm_ids = [vm.vm_uuid for sub in first.subscriptions.values() for vm in sub.vms]
    assert vm_ids == [vm.vm_uuid for sub in second.subscriptions.values() for vm in sub.vms]
    addresses = [ip.address for sub in first.subscriptions.values() for ip in sub.ips]
    assert addresses == [ip.address for sub in second.subscriptions.values() for ip in sub.ips]
