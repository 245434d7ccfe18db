"""The simulated AWS, spoken to with plain boto3: both engines serve what the landscape says.

The native engine is also checked for what only it does: SigV4 signatures and session tokens,
forbidden scopes, throttling, paging limits, filters. moto runs as a real subprocess.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from graphinv.sim.aws import AwsSim
from graphinv.sim.aws_world import ROOT_DEVICE
from graphinv.sim.landscape import technical_id
from tests.support.aws_landscapes import BASE, OTHER, fault_landscape, feature_landscape, start_sim


def ec2_for(sim: AwsSim, region: str, creds: dict[str, str] | None = None, retries: int = 1) -> Any:
    cfg = sim.source_config()
    creds = creds or {"aws_access_key_id": cfg["credentials"]["access_key_id"],
                      "aws_secret_access_key": cfg["credentials"]["secret_access_key"]}
    return boto3.session.Session().client(
        "ec2", region_name=region, endpoint_url=sim.endpoint_url,
        config=Config(retries={"mode": "standard", "max_attempts": retries}), **creds)


def assumed_creds(sim: AwsSim, account: str) -> dict[str, str]:
    cfg = sim.source_config()
    sts = boto3.session.Session().client(
        "sts", region_name=cfg["region"], endpoint_url=sim.endpoint_url,
        aws_access_key_id=cfg["credentials"]["access_key_id"],
        aws_secret_access_key=cfg["credentials"]["secret_access_key"])
    role = next(a["role_arn"] for a in cfg["accounts"] if a["id"] == account)
    c = sts.assume_role(RoleArn=role, RoleSessionName="test")["Credentials"]
    return {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
            "aws_session_token": c["SessionToken"]}


def all_instances(ec2: Any, page_size: int) -> tuple[list[dict[str, Any]], int]:
    pages = list(ec2.get_paginator("describe_instances").paginate(PaginationConfig={"PageSize": page_size}))
    return [i for p in pages for r in p["Reservations"] for i in r["Instances"]], len(pages)


@pytest.fixture(scope="module", params=["native", "moto"])
def feature_sim(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsSim]:
    sim = start_sim(feature_landscape(), tmp_path_factory.mktemp(f"aws-{request.param}"), request.param)
    yield sim
    sim.stop()


@pytest.fixture
def native_sim(tmp_path: Path) -> Iterator[AwsSim]:
    sim = start_sim(feature_landscape(), tmp_path, "native")
    yield sim
    sim.stop()


# -- both engines -------------------------------------------------------------------------------
def test_instances_read_back_across_pages(feature_sim: AwsSim) -> None:
    region = feature_sim.world.accounts[BASE].regions["eu-west-1"]
    found, pages = all_instances(ec2_for(feature_sim, "eu-west-1"), page_size=5)
    assert pages >= 2  # moto and the native engine both page DescribeInstances
    keys = feature_sim.id_map()
    by_key = {keys[i["InstanceId"]]: i for i in found}
    assert sorted(by_key) == sorted(i.key for i in region.instances)
    for inst in region.instances:
        got = by_key[inst.key]
        assert {t["Key"]: t["Value"] for t in got["Tags"]} == inst.tags
        assert got["Placement"]["AvailabilityZone"] == inst.zone
        assert got["InstanceType"] == inst.instance_type
        assert got["State"]["Name"] == inst.state
        if inst.state != "terminated":
            assert got["PrivateIpAddress"] == inst.launch_ip
            assert keys[got["VpcId"]] == f"vpc:{BASE}/eu-west-1"
        if inst.elastic_ip is not None:
            assert got.get("PublicIpAddress") == inst.elastic_ip.public_ip
        elif inst.own_public_ip is not None:
            assert got.get("PublicIpAddress")  # moto picks its own address
        else:
            assert not got.get("PublicIpAddress")
    # Gardener's tags, as the landscape's shoot and role ask for them.
    node = by_key["node0"]
    tags = {t["Key"]: t["Value"] for t in node["Tags"]}
    assert tags[f"kubernetes.io/cluster/{technical_id('dev', 'alpha')}"] == "1"
    assert tags["kubernetes.io/role/node"] == "1"
    assert {t["Key"] for t in by_key["bastion"]["Tags"]} == {"Name"}


def test_volumes_and_addresses_read_back(feature_sim: AwsSim) -> None:
    region = feature_sim.world.accounts[BASE].regions["eu-west-1"]
    ec2 = ec2_for(feature_sim, "eu-west-1")
    keys = feature_sim.id_map()
    volumes = {keys[v["VolumeId"]]: v for v in ec2.describe_volumes()["Volumes"]}
    assert sorted(volumes) == sorted(v.key for v in region.volumes)
    for vol in region.volumes:
        got = volumes[vol.key]
        assert (got["Size"], got["VolumeType"], got["AvailabilityZone"]) == (vol.size_gb, vol.volume_type, vol.zone)
        assert {t["Key"]: t["Value"] for t in got.get("Tags", [])} == vol.tags
        if vol.attachment is None:
            assert got["State"] == "available" and not got["Attachments"]
        else:
            (att,) = got["Attachments"]
            assert keys[att["InstanceId"]] == vol.attachment.instance_key
            assert att["Device"] == vol.attachment.device
    assert "ended#root" not in volumes  # deleted with its instance
    assert volumes["plain-root"]["Attachments"][0]["Device"] == ROOT_DEVICE

    addresses = {keys[a["AllocationId"]]: a for a in ec2.describe_addresses()["Addresses"]}
    assert sorted(addresses) == sorted(a.key for a in region.addresses)
    assert addresses["eip-fixed"]["PublicIp"] == "203.0.113.7"
    enis = {e["NetworkInterfaceId"]: e["Attachment"]["InstanceId"]
            for e in ec2.describe_network_interfaces()["NetworkInterfaces"] if e.get("Attachment")}
    for addr in region.addresses:
        got = addresses[addr.key]
        assert got["PublicIp"] == addr.public_ip
        instance = got.get("InstanceId") or enis.get(got.get("NetworkInterfaceId") or "")
        assert (keys[instance] if instance else None) == (addr.instance.key if addr.instance else None)


def test_role_assumption_reaches_each_account(feature_sim: AwsSim) -> None:
    cfg = feature_sim.source_config()
    assert [a["id"] for a in cfg["accounts"]] == [BASE, OTHER]
    assert "role_arn" not in cfg["accounts"][0] and cfg["accounts"][1]["role_arn"].startswith(f"arn:aws:iam::{OTHER}:")
    base_sts = boto3.session.Session().client(
        "sts", region_name=cfg["region"], endpoint_url=feature_sim.endpoint_url,
        aws_access_key_id=cfg["credentials"]["access_key_id"],
        aws_secret_access_key=cfg["credentials"]["secret_access_key"])
    assert base_sts.get_caller_identity()["Account"] == BASE
    creds = assumed_creds(feature_sim, OTHER)
    other_sts = boto3.session.Session().client("sts", region_name="eu-west-1",
                                               endpoint_url=feature_sim.endpoint_url, **creds)
    assert other_sts.get_caller_identity()["Account"] == OTHER
    keys = feature_sim.id_map()
    found, _ = all_instances(ec2_for(feature_sim, "eu-west-1", creds), page_size=5)
    assert sorted(keys[i["InstanceId"]] for i in found) == ["o0", "o1", "o2"]
    # Same region, base account: none of the other account's instances.
    base_found, _ = all_instances(ec2_for(feature_sim, "eu-west-1"), page_size=1000)
    assert not {keys[i["InstanceId"]] for i in base_found} & {"o0", "o1", "o2"}


def test_provider_ids_name_zone_and_served_id(feature_sim: AwsSim) -> None:
    served = feature_sim.instance_ids()
    ids = feature_sim.provider_ids()
    for _, inst in feature_sim.world.instances():
        assert ids[inst.key] == f"aws:///{inst.zone}/{served[inst.key]}"
        assert served[inst.key].startswith("i-") and len(served[inst.key]) == 19


# -- native engine only -------------------------------------------------------------------------
def test_native_ids_are_deterministic(tmp_path: Path) -> None:
    first, again, other_seed = (AwsSim(feature_landscape(seed), tmp_path) for seed in (11, 11, 12))
    assert first.instance_ids() == again.instance_ids()
    assert first.id_map() == again.id_map()
    assert not set(first.instance_ids().values()) & set(other_seed.instance_ids().values())


def test_native_checks_signatures_and_tokens(native_sim: AwsSim) -> None:
    cfg = native_sim.source_config()
    wrong = {"aws_access_key_id": cfg["credentials"]["access_key_id"], "aws_secret_access_key": "not-the-secret"}
    with pytest.raises(ClientError) as err:
        ec2_for(native_sim, "eu-west-1", wrong).describe_instances()
    assert err.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert "not-the-secret" not in str(err.value)
    creds = assumed_creds(native_sim, OTHER)
    without_token = {k: v for k, v in creds.items() if k != "aws_session_token"}
    with pytest.raises(ClientError) as err:
        ec2_for(native_sim, "eu-west-1", without_token).describe_instances()
    assert err.value.response["Error"]["Code"] == "AuthFailure"
    unknown = {"aws_access_key_id": "AKIAUNKNOWNUNKNOWN00", "aws_secret_access_key": "x"}
    with pytest.raises(ClientError) as err:
        ec2_for(native_sim, "eu-west-1", unknown).describe_instances()
    assert err.value.response["Error"]["Code"] == "AuthFailure"


def test_native_refuses_roles_of_unknown_accounts(native_sim: AwsSim) -> None:
    cfg = native_sim.source_config()
    sts = boto3.session.Session().client(
        "sts", region_name="eu-west-1", endpoint_url=native_sim.endpoint_url,
        aws_access_key_id=cfg["credentials"]["access_key_id"],
        aws_secret_access_key=cfg["credentials"]["secret_access_key"])
    with pytest.raises(ClientError) as err:
        sts.assume_role(RoleArn="arn:aws:iam::999999999999:role/graphinv-reader", RoleSessionName="test")
    assert err.value.response["Error"]["Code"] == "AccessDenied"


def test_native_paging_limits_filters_and_ids(native_sim: AwsSim) -> None:
    ec2 = ec2_for(native_sim, "eu-west-1")
    with pytest.raises(ClientError) as err:
        ec2.describe_instances(MaxResults=1001)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.describe_volumes(MaxResults=501)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.describe_instances(InstanceIds=["i-00000000000000000"])
    assert err.value.response["Error"]["Code"] == "InvalidInstanceID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.describe_instances(Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"

    world = native_sim.world.accounts[BASE].regions["eu-west-1"]
    stopped = [i.id for i in world.instances if i.state == "stopped"]
    got = ec2.describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["stopped"]}])
    assert [i["InstanceId"] for r in got["Reservations"] for i in r["Instances"]] == stopped
    named = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": ["shoot--dev--alpha-worker-*"]}])
    assert len(named["Reservations"]) == sum(1 for i in world.instances if i.name.startswith("shoot--dev--alpha-w"))
    node = next(i for i in world.instances if i.key == "node3")
    enis = ec2.describe_network_interfaces(Filters=[{"Name": "network-interface-id", "Values": [node.eni_id]}])
    assert [e["Attachment"]["InstanceId"] for e in enis["NetworkInterfaces"]] == [node.id]
    free = ec2.describe_volumes(Filters=[{"Name": "status", "Values": ["available"]}])["Volumes"]
    assert sorted(v["VolumeId"] for v in free) == sorted(v.id for v in world.volumes if v.attachment is None)


def test_native_describe_regions_lists_enabled_regions(native_sim: AwsSim) -> None:
    ec2 = ec2_for(native_sim, "eu-west-1")
    regions = ec2.describe_regions(Filters=[{"Name": "opt-in-status", "Values": ["opt-in-not-required"]}])
    assert sorted(r["RegionName"] for r in regions["Regions"]) == native_sim.world.all_regions()
    # A region the account has nothing in answers empty lists, not an error.
    assert ec2_for(native_sim, "us-west-2").describe_instances()["Reservations"] == []


def test_native_forbidden_scopes_answer_unauthorized(tmp_path: Path) -> None:
    with AwsSim(fault_landscape(), tmp_path) as sim:
        assert len(all_instances(ec2_for(sim, "eu-west-1"), 1000)[0]) == 1
        with pytest.raises(ClientError) as err:
            ec2_for(sim, "us-east-1").describe_instances()
        assert err.value.response["Error"]["Code"] == "UnauthorizedOperation"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        other = ec2_for(sim, "eu-west-1", assumed_creds(sim, OTHER))
        with pytest.raises(ClientError) as err:
            other.describe_volumes()
        assert err.value.response["Error"]["Code"] == "UnauthorizedOperation"


def test_native_throttles_the_first_requests_of_a_scope(tmp_path: Path) -> None:
    with AwsSim(fault_landscape(), tmp_path) as sim:
        once = ec2_for(sim, "eu-north-1", retries=1)
        with pytest.raises(ClientError) as err:
            once.describe_instances()
        assert err.value.response["Error"]["Code"] == "RequestLimitExceeded"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        patient = ec2_for(sim, "eu-north-1", retries=5)
        found, _ = all_instances(patient, 1000)
        assert len(found) == 4
        assert sim.throttled_requests(BASE, "eu-north-1") == 3
        assert sim.throttled_requests(BASE, "eu-west-1") == 0
