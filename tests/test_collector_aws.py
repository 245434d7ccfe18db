"""The AWS collector (plan + fetch, real boto3 over HTTP) against the simulated AWS.

Expected values are computed from the landscape (through the simulator's resolved world), never
written down here, so a change on either side shows up as a difference.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.utils import parse_timestamp
from pydantic import ValidationError

from collectors.aws import collect_addresses, collect_instances, collect_volumes, plan
from collectors.aws.collect import interface_instances
from collectors.aws.session import Ec2Clients, base_session
from collectors.aws.settings import AwsSettings
from collectors.records import CloudAccountRecord, DiskRecord, InstanceRecord, IPRecord, Record, RegionRecord
from graphinv.ingest.engine import record_row
from graphinv.sim.aws import AwsSim
from graphinv.sim.aws_world import AwsWorld
from graphinv.sim.http import Request, Response, SimHTTPServer
from graphinv.sim.landscape import technical_id
from tests.support.aws_landscapes import BASE, OTHER, fault_landscape, feature_landscape, start_sim, wide_landscape
from tests.support.scopes import fetch_each as run_all


def records_of(done: dict[str, list[Record]]) -> list[Record]:
    return [r for records in done.values() for r in records]


@pytest.fixture(scope="module")
def native_features(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsSim]:
    sim = start_sim(feature_landscape(), tmp_path_factory.mktemp("aws-native"), "native")
    yield sim
    sim.stop()


# -- what is collected --------------------------------------------------------------------------
def test_plan_has_one_scope_per_account_region_kind(native_features: AwsSim) -> None:
    tasks = plan(native_features.source_config())
    expected = {(a.id, r, kind) for a in native_features.world.accounts.values() for r in a.regions
                for kind in ("Instance", "Disk", "IP", "MachineType")}
    assert {(t.scope.account, t.scope.region, t.scope.kind) for t in tasks} == expected
    for task in tasks:
        assert task.scope.source == "aws"
        assert task.scope.extra_labels == (("IP",) if task.scope.kind == "Instance" else ())
        account, region = task.context
        assert isinstance(account, CloudAccountRecord) and account.uid == f"aws:{task.scope.account}"
        assert isinstance(region, RegionRecord) and region.uid == f"aws:{task.scope.region}"


def test_instances_match_the_landscape(native_features: AwsSim) -> None:
    done, failed = run_all(plan(native_features.source_config()))
    assert not failed
    world = native_features.world
    instances = {r.uid: r for r in records_of(done) if isinstance(r, InstanceRecord)}
    assert len(instances) == len(world.instances())
    for region, inst in world.instances():
        rec = instances[inst.id]
        assert (rec.account_id, rec.region, rec.zone) == (region.account, region.name, inst.zone)
        assert (rec.name, rec.tags, rec.instance_type) == (inst.name, inst.tags, inst.instance_type)
        assert rec.state == rec.status == inst.state
        assert rec.provider_id == native_features.provider_ids()[inst.key]
        assert rec.private_ip == inst.private_ip and rec.public_ip == inst.public_ip
        assert rec.network == (region.vpc_id if inst.alive else None)
        row = record_row(rec)["props"]  # the engine derives the account, region and shoot keys
        assert (row["account_ref"], row["region_ref"]) == (f"aws:{region.account}", f"aws:{region.name}")
        assert rec.created == datetime.fromisoformat(inst.launch_time)
    # Roles and clusters from Gardener's tags.
    by_key = {inst.key: instances[inst.id] for _, inst in world.instances()}
    alpha = technical_id("dev", "alpha")
    node = by_key["node0"]
    assert (node.role, node.cluster, record_row(node)["props"]["shoot_ref"]) == ("node", alpha, alpha)
    assert node.cluster_name_key == f"{alpha}/{node.name}"
    assert (by_key["bastion"].role, by_key["bastion"].cluster) == ("bastion", None)
    assert (by_key["plain"].role, by_key["plain"].cluster, by_key["plain"].cluster_name_key) == (None, None, None)
    assert by_key["stopped"].cluster == technical_id("dev", "gone")


def test_own_public_ips_come_from_the_instance_scope(native_features: AwsSim) -> None:
    done, _ = run_all(plan(native_features.source_config()))
    world = native_features.world
    for region in world.region_worlds():
        own = [r for r in done[f"aws:{region.account}:{region.name}:Instance"] if isinstance(r, IPRecord)]
        expected = {i.own_public_ip: i for i in region.instances if i.own_public_ip}
        assert {r.address for r in own} == set(expected)
        for rec in own:
            inst = expected[rec.address or ""]
            assert rec.uid == f"aws:{region.name}:{rec.address}"
            assert (rec.ephemeral, rec.allocation, rec.attached) == (True, "dynamic", True)
            assert (rec.instance_ref, rec.attached_to) == (inst.id, inst.eni_id)
        # An instance whose public address is an Elastic IP gets no ephemeral record.
        eips = {a.public_ip for a in region.addresses}
        assert not {r.address for r in own} & eips


def test_volumes_match_the_landscape(native_features: AwsSim) -> None:
    done, _ = run_all(plan(native_features.source_config()))
    world = native_features.world
    disks = {r.uid: r for r in records_of(done) if isinstance(r, DiskRecord)}
    volumes = [(region, v) for region in world.region_worlds() for v in region.volumes]
    assert sorted(disks) == sorted(v.id for _, v in volumes)
    for region, vol in volumes:
        rec = disks[vol.id]
        assert (rec.size_gb, rec.disk_type, rec.zone, rec.state, rec.tags) == (
            vol.size_gb, vol.volume_type, vol.zone, vol.state, vol.tags)
        assert rec.boot == vol.boot
        attached = [vol.attachment.instance_id] if vol.attachment else []
        assert (rec.attached, rec.attached_instances, rec.instance_ref) == (bool(attached), attached,
                                                                           attached[0] if attached else None)
        assert rec.region == region.name
        assert rec.created == datetime.fromisoformat(vol.create_time)
    orphan = disks[next(v.id for _, v in volumes if v.key == "pv-orphan")]
    scratch = disks[next(v.id for _, v in volumes if v.key == "scratch")]
    assert scratch.created == datetime(2023, 9, 10, tzinfo=UTC)  # the landscape's date, read as UTC
    assert (orphan.cluster, orphan.name, orphan.attached) == (technical_id("dev", "gone"), "kubernetes-dynamic-pv-1",
                                                              False)


def test_elastic_ips_match_the_landscape(native_features: AwsSim) -> None:
    done, _ = run_all(plan(native_features.source_config()))
    world = native_features.world
    ips = {r.uid: r for key, records in done.items() if key.endswith(":IP") for r in records
           if isinstance(r, IPRecord)}
    addresses = [a for region in world.region_worlds() for a in region.addresses]
    assert sorted(ips) == sorted(a.allocation_id for a in addresses)
    for addr in addresses:
        rec = ips[addr.allocation_id]
        assert (rec.address, rec.allocation, rec.ephemeral, rec.tags) == (addr.public_ip, "elastic", False, addr.tags)
        assert rec.instance_ref == (addr.instance.id if addr.instance else None)
        assert rec.attached == (addr.instance is not None)
    assert ips[next(a.allocation_id for a in addresses if a.key == "eip-free")].cluster == technical_id("dev", "gone")


# -- paging, accounts, regions --------------------------------------------------------------------
def test_collects_across_many_pages(tmp_path: Path) -> None:
    sim = start_sim(wide_landscape(instances=2345, free_disks=1100), tmp_path, "native")
    try:
        done, failed = run_all(plan(sim.source_config()))
        assert not failed
        region = sim.world.accounts[BASE].regions["eu-west-1"]
        instances = [r for r in done[f"aws:{BASE}:eu-west-1:Instance"] if isinstance(r, InstanceRecord)]
        assert sorted(r.uid for r in instances) == sorted(i.id for i in region.instances)
        assert sorted(r.uid for r in done[f"aws:{BASE}:eu-west-1:Disk"]) == sorted(v.id for v in region.volumes)
        assert sim.api is not None
        assert sim.api.count("DescribeInstances", status=200) == 3  # 1000 + 1000 + 345
        assert sim.api.count("DescribeVolumes", status=200) == -(-len(region.volumes) // 500)
    finally:
        sim.stop()


def test_other_accounts_are_read_through_their_role(native_features: AwsSim) -> None:
    done, _ = run_all(plan(native_features.source_config()))
    other = [r for r in done[f"aws:{OTHER}:eu-west-1:Instance"] if isinstance(r, InstanceRecord)]
    expected = native_features.world.accounts[OTHER].regions["eu-west-1"].instances
    assert sorted(r.uid for r in other) == sorted(i.id for i in expected)
    assert {r.account_id for r in other} == {OTHER}
    assert native_features.api is not None
    assert native_features.api.count("AssumeRole", account=BASE, status=200) >= 1
    assert native_features.api.count("DescribeInstances", account=OTHER, status=200) >= 1


def test_regions_are_discovered_when_not_listed(native_features: AwsSim) -> None:
    config = native_features.source_config()
    config["accounts"] = [{k: v for k, v in a.items() if k != "regions"} for a in config["accounts"]]
    tasks = plan(config)
    every = native_features.world.all_regions()
    for account in (BASE, OTHER):
        assert sorted({t.scope.region for t in tasks if t.scope.account == account}) == every
    done, failed = run_all(tasks)
    assert not failed
    assert done[f"aws:{OTHER}:eu-central-1:Instance"] == []  # enabled, but empty for this account


def test_account_from_caller_identity_when_no_accounts_listed(native_features: AwsSim) -> None:
    config = {k: v for k, v in native_features.source_config().items() if k != "accounts"}
    tasks = plan(config)
    assert {t.scope.account for t in tasks} == {BASE}


# -- failures stay in their scopes ----------------------------------------------------------------
def test_forbidden_region_and_account_fail_only_their_scopes(tmp_path: Path) -> None:
    with AwsSim(fault_landscape(), tmp_path) as sim:
        done, failed = run_all(plan(sim.source_config()))
        forbidden = [f"aws:{BASE}:us-east-1:{k}" for k in ("Instance", "Disk", "IP")] + [
            f"aws:{OTHER}:eu-west-1:{k}" for k in ("Instance", "Disk", "IP")]
        # A region's catalogue is read once per collection and shared by its accounts, so a forbidden
        # account's MachineType scope completes when another account read that region first.
        catalogues = {f"aws:{BASE}:us-east-1:MachineType", f"aws:{OTHER}:eu-west-1:MachineType"}
        assert set(forbidden) <= set(failed) <= set(forbidden) | catalogues
        assert f"aws:{BASE}:us-east-1:MachineType" in failed  # nobody else could read us-east-1
        for exc in failed.values():
            assert isinstance(exc, ClientError)
            assert exc.response["Error"]["Code"] == "UnauthorizedOperation"
        assert [r.name for r in done[f"aws:{BASE}:eu-west-1:Instance"] if isinstance(r, InstanceRecord)] == ["w1"]


def test_account_that_cannot_list_regions_fails_as_a_whole(tmp_path: Path) -> None:
    with AwsSim(fault_landscape(), tmp_path) as sim:
        config = sim.source_config()
        for account in config["accounts"]:
            if account["id"] == OTHER:
                del account["regions"]
        tasks = plan(config)
        done, failed = run_all(tasks)
        assert sorted(failed) == sorted(
            [f"aws:{BASE}:us-east-1:{k}" for k in ("Instance", "Disk", "IP", "MachineType")]
            + [f"aws:{OTHER}:global:{k}" for k in ("Instance", "Disk", "IP", "MachineType")])
        assert f"aws:{BASE}:eu-north-1:Instance" in done


def test_throttled_scope_is_retried_until_it_succeeds(tmp_path: Path) -> None:
    with AwsSim(fault_landscape(), tmp_path) as sim:
        tasks = [t for t in plan(sim.source_config()) if t.scope.region == "eu-north-1"]
        done, failed = run_all(tasks)
        assert not failed
        region = sim.world.accounts[BASE].regions["eu-north-1"]
        names = [r.name or "" for r in done[f"aws:{BASE}:eu-north-1:Instance"] if isinstance(r, InstanceRecord)]
        assert sorted(names) == sorted(i.name for i in region.instances)
        assert sim.throttled_requests(BASE, "eu-north-1") == region.throttle_times == 3


def test_credentials_never_show_in_errors(native_features: AwsSim) -> None:
    config = native_features.source_config()
    secret = "wrong-secret-Zx81ab7Q"
    config["credentials"] = {**config["credentials"], "secret_access_key": secret}
    config["accounts"] = [a for a in config["accounts"] if a["id"] == BASE]
    _, failed = run_all(plan(config))
    assert failed and all(secret not in f"{exc!r} {exc}" for exc in failed.values())
    assert secret not in repr(AwsSettings.model_validate(config))
    with pytest.raises(ValidationError) as err:
        AwsSettings.model_validate({**config, "credentials": {"access_key_id": secret}})
    assert secret not in str(err.value) and "secret_access_key" in str(err.value)


def test_config_errors_name_the_place() -> None:
    with pytest.raises(ValidationError, match=r"accounts\.0\.role_arn\n.*IAM role ARN"):
        AwsSettings.model_validate({"accounts": [{"role_arn": "not-an-arn"}]})
    with pytest.raises(ValidationError, match="another account"):
        AwsSettings.model_validate({"accounts": [{"id": BASE, "role_arn": f"arn:aws:iam::{OTHER}:role/r"}]})
    with pytest.raises(ValidationError, match=r"regions\n\s+Extra inputs are not permitted"):
        AwsSettings.model_validate({"regions": ["eu-west-1"]})
    with pytest.raises(ValidationError, match="either profile or credentials"):
        AwsSettings.model_validate({"profile": "p", "credentials": {"access_key_id": "a", "secret_access_key": "b"}})
    by_role = AwsSettings.model_validate({"accounts": [{"role_arn": f"arn:aws:iam::{OTHER}:role/r"}]})
    assert by_role.accounts[0].id == OTHER
    assert AwsSettings.model_validate({"accounts": [{"id": 12345}]}).accounts[0].id == "000000012345"


# -- moto and the native responder agree ------------------------------------------------------------
def normalized(records: list[Record], ids: dict[str, str], world: AwsWorld) -> list[dict[str, Any]]:
    """Records with engine-chosen values replaced by landscape keys, so two engines can be compared.

    Left out: timestamps (moto stamps its own clock) and instances' own public addresses (moto picks
    them); a terminated instance's private address and VPC are dropped because moto keeps them and AWS
    does not.
    """
    elastic = {a.public_ip for r in world.region_worlds() for a in r.addresses}
    enis: dict[str, str] = {}
    for rec in records:
        if isinstance(rec, IPRecord) and rec.attached_to and rec.attached_to.startswith("eni-") and rec.instance_ref:
            enis[rec.attached_to] = "eni:" + ids[rec.instance_ref]

    def key(value: Any) -> Any:
        if isinstance(value, str):
            if value in ids:
                return ids[value]
            if value in enis:
                return enis[value]
            if value.startswith("aws:///"):
                zone, _, iid = value[len("aws:///"):].partition("/")
                return f"aws:///{zone}/{ids[iid]}"
        if isinstance(value, list):
            return [key(v) for v in value]
        return value

    out = []
    for rec in records:
        row = {f.name: key(getattr(rec, f.name)) for f in fields(rec)}
        row["label"] = rec.label
        for stamp in ("created", "last_attached", "last_detached"):
            row.pop(stamp, None)
        if isinstance(rec, InstanceRecord):
            if rec.public_ip and rec.public_ip not in elastic:
                row["public_ip"] = "<own>"
            if rec.state == "terminated":
                row["private_ip"] = row["network"] = None
        if isinstance(rec, IPRecord) and rec.ephemeral:
            row["uid"] = row["address"] = f"<own of {key(rec.instance_ref)}>"
        out.append(row)
    return sorted(out, key=lambda r: (r["label"], str(r["uid"])))


def test_moto_and_native_engines_give_identical_records(tmp_path: Path) -> None:
    landscape = feature_landscape()
    results = {}
    for engine in ("native", "moto"):
        sim = start_sim(landscape, tmp_path / engine, engine)
        try:
            done, failed = run_all(plan(sim.source_config()))
            assert not failed, failed
            # Machine types are left out: moto serves its own full EC2 catalogue, the native engine
            # the landscape's types; the catalogue mapping is tested against AWS's own sample.
            records = [r for r in records_of(done) if r.label != "MachineType"]
            results[engine] = normalized(records, sim.id_map(), sim.world)
        finally:
            sim.stop()
    native, moto = results["native"], results["moto"]
    assert len(native) == len(moto)
    for a, b in zip(native, moto, strict=True):
        assert a == b
    # The comparison covered every kind, so agreement is not vacuous.
    assert {r["label"] for r in native} == {"Instance", "Disk", "IP"}


# -- the official botocore samples, through real boto3 ---------------------------------------------
def test_botocore_sample_responses_map_to_records(shared_samples: Path) -> None:
    folder = shared_samples / "aws"
    bodies = {action: (folder / f"botocore-test-ec2-{name}.xml").read_bytes()
              for action, name in (("DescribeInstances", "describe-instances"),
                                   ("DescribeVolumes", "describe-volumes"),
                                   ("DescribeAddresses", "describe-addresses"),
                                   ("DescribeNetworkInterfaces", "describe-network-interfaces"))}
    parsed = {action: json.loads((folder / f"botocore-test-ec2-{name}.json").read_text())
              for action, name in (("DescribeInstances", "describe-instances"),
                                   ("DescribeVolumes", "describe-volumes"),
                                   ("DescribeAddresses", "describe-addresses"),
                                   ("DescribeNetworkInterfaces", "describe-network-interfaces"))}

    def serve(request: Request) -> Response:
        action = dict(pair.split("=", 1) for pair in request.body.decode().split("&"))["Action"]
        return Response(200, bodies[action], {"Content-Type": "text/xml"})  # unchanged upstream bytes

    server = SimHTTPServer(serve, name="aws-samples").start()
    try:
        # The collector's own session set-up (it installs its own timestamp parser).
        source = AwsSettings.model_validate({"region": "us-west-2", "endpoint_url": server.url, "credentials": {
            "access_key_id": "AKIASAMPLE0000000000", "secret_access_key": "sample"}})
        ec2 = Ec2Clients(base_session(source), source).get("us-west-2")
        records = list(collect_instances(ec2, "123456789012", "us-west-2"))
        volumes = list(collect_volumes(ec2, "123456789012", "us-west-2"))
        addresses = list(collect_addresses(ec2, "123456789012", "us-west-2"))
        enis = interface_instances(ec2, ["eni-0f62d866"])
    finally:
        server.stop()

    raw_instances = [i for r in parsed["DescribeInstances"]["Reservations"] for i in r["Instances"]]
    instances = [r for r in records if isinstance(r, InstanceRecord)]
    assert [r.uid for r in instances] == [i["InstanceId"] for i in raw_instances]
    for rec, raw in zip(instances, raw_instances, strict=True):
        assert rec.state == raw["State"]["Name"]
        assert rec.zone == raw["Placement"]["AvailabilityZone"]
        assert rec.instance_type == raw["InstanceType"]
        assert rec.private_ip == raw.get("PrivateIpAddress")
        assert rec.public_ip == raw.get("PublicIpAddress")
        assert rec.provider_id == f"aws:///{raw['Placement']['AvailabilityZone']}/{raw['InstanceId']}"
        assert rec.tags == {t["Key"]: t.get("Value", "") for t in raw.get("Tags", [])}
        assert rec.created == parse_timestamp(raw["LaunchTime"])  # botocore's own parser as reference
    elastic = {a["PublicIp"] for a in parsed["DescribeAddresses"]["Addresses"]}
    own = [r for r in records if isinstance(r, IPRecord)]
    assert sorted(r.address or "" for r in own) == sorted(
        i["PublicIpAddress"] for i in raw_instances if i.get("PublicIpAddress") and i["PublicIpAddress"] not in elastic)

    raw_volumes = parsed["DescribeVolumes"]["Volumes"]
    assert [(v.uid, v.size_gb, v.state, v.attached_instances) for v in volumes] == [
        (v["VolumeId"], v["Size"], v["State"], [a["InstanceId"] for a in v["Attachments"]]) for v in raw_volumes]
    assert [v.created for v in volumes] == [parse_timestamp(v["CreateTime"]) for v in raw_volumes]
    roots = {(d["DeviceName"], d["Ebs"]["VolumeId"]) for i in raw_instances for d in i["BlockDeviceMappings"]
             if d["DeviceName"] == i["RootDeviceName"]}
    assert {v.uid for v in volumes if v.boot} == {vol for _, vol in roots}

    raw_addresses = parsed["DescribeAddresses"]["Addresses"]
    assert [a.uid for a in addresses] == [a.get("AllocationId") or f"aws:us-west-2:{a['PublicIp']}"
                                          for a in raw_addresses]
    assert all(a.allocation == "elastic" and not a.attached for a in addresses)
    raw_enis = parsed["DescribeNetworkInterfaces"]["NetworkInterfaces"]
    assert enis == {e["NetworkInterfaceId"]: e["Attachment"]["InstanceId"] for e in raw_enis
                    if e.get("Attachment", {}).get("InstanceId")}

