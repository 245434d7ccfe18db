"""The landscape's AWS accounts resolved into concrete EC2 objects, independent of who serves them.

Both AWS engines start from this model: the native responder serves it as it is, the moto engine
replays it as boto3 calls (and moto then picks its own ids). Everything a landscape leaves open is
decided here, once, so the two engines agree on names, tags, zones, sizes, private addresses,
device names and which resources are attached to what.

How a landscape maps to EC2 (the rules AWS itself applies, so the simulator is not kinder than AWS):
- Gardener worker VMs (`role: node`, the default when `shoot` is set) carry the tags the AWS provider
  extension puts into the machine class: `kubernetes.io/cluster/<technical id>: "1"` and
  `kubernetes.io/role/node: "1"`, plus `Name` = the machine name (machine-controller-manager).
  The root volume gets the same tags, as machine-controller-manager tags volumes like instances.
- Bastion VMs (`role: bastion`) carry only `Name` (usually `<technical id>-<bastion>-bastion`):
  that is all the extension's bastion controller sets.
- Every instance has a root volume on /dev/sda1; a disk listed under it with `boot: true` describes
  that root volume, otherwise it is 50 GiB gp3. Data disks attach as /dev/sdf, /dev/sdg, ...
- A terminated instance keeps no private or public address; its root volume is gone, its data
  volumes are detached and its Elastic IP is disassociated.
- A stopped instance has lost its own public address but keeps its Elastic IP.
- An Elastic IP associated with an instance replaces the instance's own public address; a second
  Elastic IP for the same instance takes over, and the first becomes unassociated (as AWS does).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from graphinv.sim import hardware
from graphinv.sim.landscape import Account, Disk, Instance, Landscape, PublicIP, Region, technical_id

ROOT_DEVICE = "/dev/sda1"
DATA_DEVICES = [f"/dev/sd{letter}" for letter in "fghijklmnop"]
DEFAULT_TIME = "2026-01-01T00:00:00.000Z"
DEFAULT_ROOT_SIZE_GB = 50
DEFAULT_VOLUME_TYPE = "gp3"
VPC_CIDR = "10.250.0.0/16"
SUBNET_PREFIX = 19  # 8 zones of 8,187 usable addresses each
IMAGE_ID = "ami-0a1b2c3d4e5f60718"

# EC2 instance state codes (the low byte of instanceState.code).
STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}
_HAS_OWN_PUBLIC_IP = {"pending", "running", "shutting-down"}
# Volume types whose IOPS are provisioned (io1/io2 must be created with Iops; gp3 has a baseline).
PROVISIONED_IOPS = {"gp3": 3000, "io1": 3000, "io2": 3000}


def hex_id(prefix: str, seed: int, *parts: str, length: int = 17) -> str:
    """A deterministic AWS-style id: prefix + `length` hex digits from the seed and the parts."""
    digest = hashlib.sha256("\x1f".join([str(seed), prefix, *parts]).encode()).hexdigest()
    return f"{prefix}-{digest[:length]}"


def iso_time(value: str | None) -> str:
    """Landscape timestamps as EC2 prints them (UTC, milliseconds, Z); a time without zone is UTC."""
    if not value:
        return DEFAULT_TIME
    stamp = dt.datetime.fromisoformat(value.strip())
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    stamp = stamp.astimezone(dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


@dataclass(slots=True)
class Attachment:
    instance_key: str
    instance_id: str
    device: str
    attach_time: str
    delete_on_termination: bool


@dataclass(slots=True)
class Volume:
    key: str
    id: str
    zone: str
    size_gb: int
    volume_type: str
    state: str
    create_time: str
    tags: dict[str, str]
    boot: bool = False
    attachment: Attachment | None = None


@dataclass(slots=True)
class Ec2Instance:
    key: str
    id: str
    name: str
    zone: str
    instance_type: str
    state: str
    launch_time: str
    tags: dict[str, str]
    subnet_index: int  # index of the zone's subnet in the region
    launch_ip: str  # the primary private address it was launched with
    wants_public_ip: bool  # asked for its own public address at launch
    own_public_ip: str | None  # the auto-assigned address it holds now (None when stopped, ...)
    eni_id: str
    root_volume: Volume | None
    data_volumes: list[Volume] = field(default_factory=list)
    elastic_ip: Address | None = None

    @property
    def alive(self) -> bool:
        return self.state != "terminated"

    @property
    def private_ip(self) -> str | None:
        return self.launch_ip if self.alive else None

    @property
    def public_ip(self) -> str | None:
        if self.elastic_ip is not None:
            return self.elastic_ip.public_ip
        return self.own_public_ip


@dataclass(slots=True)
class Address:
    key: str
    allocation_id: str
    public_ip: str
    tags: dict[str, str]
    instance: Ec2Instance | None = None
    association_id: str | None = None


@dataclass
class RegionWorld:
    account: str
    name: str
    zones: list[str]
    vpc_id: str
    subnet_ids: list[str]
    access: str = "ok"
    throttle_times: int = 0
    instances: list[Ec2Instance] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)  # root and data volumes that exist
    addresses: list[Address] = field(default_factory=list)

    def subnet_cidr(self, index: int) -> ipaddress.IPv4Network:
        subnets = list(ipaddress.IPv4Network(VPC_CIDR).subnets(new_prefix=SUBNET_PREFIX))
        return subnets[index]


@dataclass
class AccountWorld:
    id: str
    access: str = "ok"
    throttle_times: int = 0
    regions: dict[str, RegionWorld] = field(default_factory=dict)


@dataclass
class AwsWorld:
    seed: int
    accounts: dict[str, AccountWorld] = field(default_factory=dict)
    # region -> DescribeInstanceTypes items (boto3's shape), from the landscape's machine types
    instance_types: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def base_account(self) -> str:
        return next(iter(self.accounts))

    def all_regions(self) -> list[str]:
        return sorted({r for a in self.accounts.values() for r in a.regions})

    def region_worlds(self) -> list[RegionWorld]:
        return [r for a in self.accounts.values() for r in a.regions.values()]

    def instances(self) -> list[tuple[RegionWorld, Ec2Instance]]:
        return [(r, i) for r in self.region_worlds() for i in r.instances]


def instance_tags(inst: Instance) -> dict[str, str]:
    tags: dict[str, str] = {"Name": inst.name}
    role = inst.role or ("node" if inst.shoot else None)
    if role == "node":
        if inst.shoot:
            project, _, shoot = inst.shoot.partition("/")
            tags[f"kubernetes.io/cluster/{technical_id(project, shoot)}"] = "1"
        tags["kubernetes.io/role/node"] = "1"
    tags.update(inst.tags)
    return tags


def resource_tags(name: str | None, shoot: str | None, extra: dict[str, str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    if name:
        tags["Name"] = name
    if shoot:
        project, _, shoot_name = shoot.partition("/")
        tags[f"kubernetes.io/cluster/{technical_id(project, shoot_name)}"] = "1"
    tags.update(extra)
    return tags


class _Addresses:
    """Deterministic public addresses: ephemeral ones from 52.0.0.0/8, Elastic IPs from 18.0.0.0/8."""

    def __init__(self) -> None:
        self._ephemeral = int(ipaddress.ip_address("52.16.0.1"))
        self._elastic = int(ipaddress.ip_address("18.200.0.1"))

    def ephemeral(self) -> str:
        self._ephemeral += 1
        return str(ipaddress.ip_address(self._ephemeral))

    def elastic(self) -> str:
        self._elastic += 1
        return str(ipaddress.ip_address(self._elastic))


def build_world(landscape: Landscape) -> AwsWorld:
    """Resolve the landscape's `provider: aws` accounts into EC2 objects (see the module rules)."""
    world = AwsWorld(seed=landscape.seed)
    public = _Addresses()
    for account in landscape.accounts:
        if account.provider != "aws":
            continue
        acct = world.accounts.setdefault(
            account.id, AccountWorld(id=account.id, access=account.access, throttle_times=account.throttle_times))
        for region in account.regions:
            acct.regions[region.name] = _build_region(world.seed, account, region, public)
    world.instance_types = {region: [hardware.ec2_instance_type(t) for t in hardware.offered(landscape, "aws", region)]
                            for region in world.all_regions()}
    return world


def _build_region(seed: int, account: Account, region: Region, public: _Addresses) -> RegionWorld:
    zones = list(region.zones) or [f"{region.name}a"]
    for inst in region.instances:  # zones named only on instances/disks still get a subnet
        if inst.zone and inst.zone not in zones:
            zones.append(inst.zone)
    for disk in region.disks:
        if disk.zone and disk.zone not in zones:
            zones.append(disk.zone)
    if len(zones) > 2 ** (SUBNET_PREFIX - 16):
        raise ValueError(f"aws {account.id}/{region.name}: more than {2 ** (SUBNET_PREFIX - 16)} zones")
    world = RegionWorld(
        account=account.id, name=region.name, zones=zones,
        vpc_id=hex_id("vpc", seed, account.id, region.name),
        subnet_ids=[hex_id("subnet", seed, account.id, region.name, z) for z in zones],
        access=region.access, throttle_times=region.throttle_times,
    )
    hosts_used = [0] * len(zones)
    by_key: dict[str, Ec2Instance] = {}
    for inst in region.instances:
        ec2 = _build_instance(seed, world, inst, hosts_used, public)
        world.instances.append(ec2)
        by_key[inst.key] = ec2
        for disk in inst.disks:
            if not disk.boot:
                world.volumes.append(_attach(seed, world, disk, ec2))
    for disk in region.disks:
        target = by_key.get(disk.attached_to) if disk.attached_to else None
        if disk.attached_to and target is None:
            raise ValueError(f"aws {account.id}/{region.name}: disk {disk.key!r} is attached to "
                             f"{disk.attached_to!r}, which is no instance of this region")
        world.volumes.append(_attach(seed, world, disk, target) if target else _free_volume(seed, world, disk))
    for ip in region.ips:
        world.addresses.append(_build_address(seed, world, ip, by_key, public))
    return world


def _build_instance(seed: int, world: RegionWorld, inst: Instance, hosts_used: list[int],
                    public: _Addresses) -> Ec2Instance:
    zone = inst.zone or world.zones[0]
    subnet_index = world.zones.index(zone)
    host = 4 + hosts_used[subnet_index]  # AWS keeps the first four addresses of a subnet
    hosts_used[subnet_index] += 1
    cidr = world.subnet_cidr(subnet_index)
    if host >= cidr.num_addresses - 1:
        raise ValueError(f"aws {world.account}/{world.name}: too many instances in zone {zone}")
    launch = iso_time(inst.created)
    terminated = inst.state == "terminated"
    tags = instance_tags(inst)
    iid = hex_id("i", seed, inst.key)
    ec2 = Ec2Instance(
        key=inst.key, id=iid, name=inst.name, zone=zone, instance_type=inst.type, state=inst.state,
        launch_time=launch, tags=tags, subnet_index=subnet_index,
        launch_ip=str(cidr.network_address + host),
        wants_public_ip=inst.public_ip,
        own_public_ip=public.ephemeral() if inst.public_ip and inst.state in _HAS_OWN_PUBLIC_IP else None,
        eni_id=hex_id("eni", seed, inst.key), root_volume=None,
    )
    boot = next((d for d in inst.disks if d.boot), None)
    if not terminated:  # the root volume is deleted with the instance (DeleteOnTermination)
        root_tags = dict(tags)
        if boot is not None:
            root_tags.update(resource_tags(boot.name, boot.shoot, boot.tags))
        ec2.root_volume = Volume(
            key=boot.key if boot else f"{inst.key}#root", id=hex_id("vol", seed, inst.key, "root"), zone=zone,
            size_gb=boot.size_gb if boot else DEFAULT_ROOT_SIZE_GB,
            volume_type=(boot.type if boot and boot.type else DEFAULT_VOLUME_TYPE),
            state=(boot.state if boot and boot.state else "in-use"), create_time=launch, tags=root_tags, boot=True,
            attachment=Attachment(inst.key, iid, ROOT_DEVICE, launch, True),
        )
        world.volumes.append(ec2.root_volume)
    return ec2


def _free_volume(seed: int, world: RegionWorld, disk: Disk) -> Volume:
    return Volume(
        key=disk.key, id=hex_id("vol", seed, disk.key), zone=disk.zone or world.zones[0], size_gb=disk.size_gb,
        volume_type=disk.type or DEFAULT_VOLUME_TYPE, state=disk.state or "available",
        create_time=iso_time(disk.created), tags=resource_tags(disk.name, disk.shoot, disk.tags),
    )


def _attach(seed: int, world: RegionWorld, disk: Disk, inst: Ec2Instance) -> Volume:
    volume = _free_volume(seed, world, disk)
    if inst.state == "terminated":  # AWS detached it when the instance went away
        volume.zone = disk.zone or inst.zone
        return volume
    volume.zone = inst.zone  # EBS attaches only within the instance's zone
    if len(inst.data_volumes) >= len(DATA_DEVICES):
        raise ValueError(f"aws {world.account}/{world.name}: too many disks on instance {inst.key!r}")
    device = DATA_DEVICES[len(inst.data_volumes)]
    volume.attachment = Attachment(inst.key, inst.id, device, iso_time(disk.created) if disk.created
                                   else inst.launch_time, False)
    volume.state = disk.state or "in-use"
    inst.data_volumes.append(volume)
    return volume


def _build_address(seed: int, world: RegionWorld, ip: PublicIP, by_key: dict[str, Ec2Instance],
                   public: _Addresses) -> Address:
    address = Address(
        key=ip.key, allocation_id=hex_id("eipalloc", seed, ip.key), public_ip=ip.address or public.elastic(),
        tags=resource_tags(ip.name, ip.shoot, ip.tags),
    )
    if ip.attached_to:
        target = by_key.get(ip.attached_to)
        if target is None:
            raise ValueError(f"aws {world.account}/{world.name}: address {ip.key!r} is attached to "
                             f"{ip.attached_to!r}, which is no instance of this region")
        if target.state != "terminated":
            if target.elastic_ip is not None:  # the newer association wins, as in AWS
                target.elastic_ip.instance = None
                target.elastic_ip.association_id = None
            target.elastic_ip = address
            target.own_public_ip = None  # an Elastic IP replaces the auto-assigned address
            address.instance = target
            address.association_id = hex_id("eipassoc", seed, ip.key)
    return address
