"""The moto AWS engine: moto's server in a subprocess, filled with an AwsWorld through boto3 only.

How moto tells accounts apart: a request signed with an access key that moto issued (an IAM user's
key, or the temporary key from `sts:AssumeRole` on a role ARN of account X) runs in that key's
account; any other key runs in moto's default account 123456789012. The seeding below selects the
account with moto's `x-moto-account-id` header instead, so it does not depend on the path the
collector takes: the collector authenticates as an IAM user of the first landscape account and
assumes `arn:aws:iam::<id>:role/graphinv-reader` for the others, as it would against AWS.

What moto cannot show (it warns, and serves the nearest state): pending and shutting-down
instances (served running / terminated), stopping (served stopped), volume states other than
in-use/available, and the landscape's faults (`access: forbidden`, `throttle_times`), which only
the native engine injects. moto also chooses its own ids, launch times and instances' own public
addresses; Elastic IP addresses and private addresses are the world's.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

from graphinv.sim.aws_world import (
    DEFAULT_ROOT_SIZE_GB,
    DEFAULT_VOLUME_TYPE,
    IMAGE_ID,
    PROVISIONED_IOPS,
    ROOT_DEVICE,
    VPC_CIDR,
    AwsWorld,
    Ec2Instance,
    RegionWorld,
    Volume,
)

log = logging.getLogger(__name__)

READER_ROLE = "graphinv-reader"
_TRUST_POLICY = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
                 '"Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}')
# moto answers whatever the signature; these only need the right shape.
_SEED_KEY, _SEED_SECRET = "AKIAGRAPHINVSEEDER00", "graphinv-seeder-not-a-secret"


class MotoProcess:
    """`python -m moto.server` on 127.0.0.1:port, with its output in workdir/moto.log."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._log_path = workdir / "moto.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        with self._log_path.open("wb") as out:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {self._proc.returncode}; see {self._log_path}")
            try:
                if httpx.get(f"{self.url}/moto-api/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"moto server did not answer within {timeout:.0f} s; see {self._log_path}")
            time.sleep(0.2)

    def reset(self, seed: int) -> None:
        httpx.post(f"{self.url}/moto-api/reset", timeout=30).raise_for_status()
        # Makes moto's ids depend only on the order of calls, which the seeding keeps fixed.
        httpx.post(f"{self.url}/moto-api/seed", params={"a": str(seed)}, timeout=30).raise_for_status()

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._proc = None


@dataclass
class MotoSeeded:
    base_access_key: str
    base_secret_key: str
    ids: dict[str, str] = field(default_factory=dict)  # moto id -> landscape key
    instance_ids: dict[str, str] = field(default_factory=dict)  # instance key -> moto id


def _client(endpoint: str, service: str, account: str, region: str) -> Any:
    client = boto3.session.Session().client(
        service, region_name=region, endpoint_url=endpoint, aws_access_key_id=_SEED_KEY,
        aws_secret_access_key=_SEED_SECRET, config=Config(retries={"mode": "standard", "max_attempts": 3}))

    def pick_account(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account

    client.meta.events.register(f"before-sign.{client.meta.service_model.service_id.hyphenize()}", pick_account)
    return client


def _tag_spec(resource: str, tags: dict[str, str]) -> list[dict[str, Any]]:
    if not tags:
        return []
    return [{"ResourceType": resource, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


def seed_moto(endpoint: str, world: AwsWorld) -> MotoSeeded:
    home = next(iter(world.accounts[world.base_account].regions), "eu-west-1")
    iam = _client(endpoint, "iam", world.base_account, home)
    iam.create_user(UserName="graphinv")
    key = iam.create_access_key(UserName="graphinv")["AccessKey"]
    seeded = MotoSeeded(base_access_key=key["AccessKeyId"], base_secret_key=key["SecretAccessKey"])
    for account in world.accounts.values():
        if account.id != world.base_account:
            _client(endpoint, "iam", account.id, home).create_role(
                RoleName=READER_ROLE, AssumeRolePolicyDocument=_TRUST_POLICY)
        if account.access != "ok" or account.throttle_times:
            log.warning("moto engine: account %s has faults the moto engine cannot inject", account.id)
        for region in account.regions.values():
            _seed_region(_client(endpoint, "ec2", account.id, region.name), region, seeded)
    return seeded


def _seed_region(ec2: Any, region: RegionWorld, seeded: MotoSeeded) -> None:
    if region.access != "ok" or region.throttle_times:
        log.warning("moto engine: %s/%s has faults the moto engine cannot inject", region.account, region.name)
    vpc = ec2.create_vpc(CidrBlock=VPC_CIDR)["Vpc"]["VpcId"]
    seeded.ids[vpc] = f"vpc:{region.account}/{region.name}"
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=str(region.subnet_cidr(i)), AvailabilityZone=zone)
               ["Subnet"]["SubnetId"] for i, zone in enumerate(region.zones)]
    enis: dict[str, str] = {}
    for inst in region.instances:
        enis[inst.key] = _run_instance(ec2, inst, subnets[inst.subnet_index], seeded)
    for volume in region.volumes:
        if not volume.boot:
            _create_volume(ec2, volume, seeded)
    for address in region.addresses:
        allocation = ec2.allocate_address(Domain="vpc", Address=address.public_ip,
                                          TagSpecifications=_tag_spec("elastic-ip", address.tags))["AllocationId"]
        seeded.ids[allocation] = address.key
        if address.instance is not None:
            # Associated through the network interface, so the collector's ENI path is exercised too.
            ec2.associate_address(AllocationId=allocation, NetworkInterfaceId=enis[address.instance.key])
    _set_states(ec2, region, seeded)


def _iops(volume_type: str) -> dict[str, int]:
    return {"Iops": PROVISIONED_IOPS[volume_type]} if volume_type in ("io1", "io2") else {}


def _run_instance(ec2: Any, inst: Ec2Instance, subnet: str, seeded: MotoSeeded) -> str:
    root = inst.root_volume
    root_type = root.volume_type if root else DEFAULT_VOLUME_TYPE
    response = ec2.run_instances(
        ImageId=IMAGE_ID, MinCount=1, MaxCount=1, InstanceType=inst.instance_type,
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "AssociatePublicIpAddress": inst.wants_public_ip,
                            "PrivateIpAddress": inst.launch_ip}],
        BlockDeviceMappings=[{"DeviceName": ROOT_DEVICE, "Ebs": {
            "VolumeSize": root.size_gb if root else DEFAULT_ROOT_SIZE_GB,
            # moto does not pass Iops through at launch, so io1/io2 root volumes fail there.
            "VolumeType": root_type, "DeleteOnTermination": True}}],
        TagSpecifications=_tag_spec("instance", inst.tags) + _tag_spec("volume", root.tags if root else inst.tags),
    )
    created = response["Instances"][0]
    seeded.ids[created["InstanceId"]] = inst.key
    seeded.instance_ids[inst.key] = created["InstanceId"]
    for mapping in created.get("BlockDeviceMappings", []):
        if mapping["DeviceName"] == ROOT_DEVICE and root is not None:
            seeded.ids[mapping["Ebs"]["VolumeId"]] = root.key
    if root is not None and root.state != "in-use":
        log.warning("moto engine: volume %s state %r is served as in-use", root.key, root.state)
    return str(created["NetworkInterfaces"][0]["NetworkInterfaceId"])


def _create_volume(ec2: Any, volume: Volume, seeded: MotoSeeded) -> None:
    created = ec2.create_volume(Size=volume.size_gb, AvailabilityZone=volume.zone, VolumeType=volume.volume_type,
                                **_iops(volume.volume_type), TagSpecifications=_tag_spec("volume", volume.tags))
    seeded.ids[created["VolumeId"]] = volume.key
    if volume.attachment is not None:
        ec2.attach_volume(VolumeId=created["VolumeId"], InstanceId=seeded.instance_ids[volume.attachment.instance_key],
                          Device=volume.attachment.device)
    expected = "in-use" if volume.attachment is not None else "available"
    if volume.state != expected:
        log.warning("moto engine: volume %s state %r is served as %s", volume.key, volume.state, expected)


def _set_states(ec2: Any, region: RegionWorld, seeded: MotoSeeded) -> None:
    stop = [i for i in region.instances if i.state in ("stopped", "stopping")]
    end = [i for i in region.instances if i.state in ("terminated", "shutting-down")]
    for inst in region.instances:
        if inst.state in ("pending", "stopping", "shutting-down"):
            log.warning("moto engine: instance %s state %r is approximated", inst.key, inst.state)
    for batch, call in ((stop, ec2.stop_instances), (end, ec2.terminate_instances)):
        for start in range(0, len(batch), 500):
            call(InstanceIds=[seeded.instance_ids[i.key] for i in batch[start:start + 500]])


def own_public_addresses(endpoint: str, world: AwsWorld, seeded: MotoSeeded) -> dict[str, str]:
    """Instance key -> the instance's own public address as moto serves it now (Elastic IPs left out),
    for every instance that has one."""
    by_id = {moto_id: key for key, moto_id in seeded.instance_ids.items()}
    found: dict[str, str] = {}
    for account in world.accounts.values():
        for region in account.regions.values():
            elastic = {a.public_ip for a in region.addresses}
            ec2 = _client(endpoint, "ec2", account.id, region.name)
            for page in ec2.get_paginator("describe_instances").paginate():
                for reservation in page.get("Reservations", ()):
                    for raw in reservation.get("Instances", ()):
                        address = raw.get("PublicIpAddress")
                        key = by_id.get(str(raw.get("InstanceId")))
                        if address and key is not None and address not in elastic:
                            found[key] = str(address)
    return found
