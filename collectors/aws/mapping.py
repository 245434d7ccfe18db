"""EC2 API objects (as boto3 returns them) to graphinv records. Pure functions, no I/O.

Gardener conventions read here (see docs/providers/aws.md for the sources):
- worker VMs carry `kubernetes.io/cluster/<technical id>` and `kubernetes.io/role/node`, and `Name`
  = the Machine's name;
- bastion VMs carry only `Name` = `<technical id>-<bastion name>-bastion`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from collectors.records import DiskRecord, InstanceRecord, IPRecord

PROVIDER = "aws"
CLUSTER_TAG_PREFIX = "kubernetes.io/cluster/"
NODE_ROLE_TAG = "kubernetes.io/role/node"
# Root device names AWS uses for EBS-backed Linux AMIs. A volume attached under one of them is the
# instance's boot volume; DescribeVolumes does not say so itself, and reading every instance's
# RootDeviceName from the Disk scope would double the instance reads.
ROOT_DEVICE_NAMES = frozenset({"/dev/sda1", "/dev/xvda"})
_BASTION_NAME = re.compile(r"^shoot--[a-z0-9-]+-bastion$")
_STATES = frozenset({"pending", "running", "shutting-down", "terminated", "stopping", "stopped"})
_ATTACHED_STATES = frozenset({"attaching", "attached", "busy"})

Raw = Mapping[str, Any]

# What the functions below (and collectors/aws/collect.py) read from each EC2 answer, by output shape:
# the collector's sessions build these members and no others (collectors/aws/responses.py). Reading a
# member not listed here finds it missing; tests/test_aws_responses.py maps the same answers through
# botocore's full parser and through this one and compares the records.
_TAGS = {"Key": None, "Value": None}
READ_FROM: Mapping[str, Mapping[str, Any]] = {
    "DescribeInstancesResult": {"NextToken": None, "Reservations": {"Instances": {
        "InstanceId": None, "InstanceType": None, "LaunchTime": None, "Placement": {"AvailabilityZone": None},
        "PrivateIpAddress": None, "PublicIpAddress": None, "State": {"Name": None}, "VpcId": None, "Tags": _TAGS,
        "NetworkInterfaces": {"NetworkInterfaceId": None, "Association": {"PublicIp": None}},
    }}},
    "DescribeVolumesResult": {"NextToken": None, "Volumes": {
        "VolumeId": None, "AvailabilityZone": None, "State": None, "CreateTime": None, "Size": None,
        "VolumeType": None, "Tags": _TAGS,
        "Attachments": {"State": None, "InstanceId": None, "Device": None, "AttachTime": None},
    }},
    "DescribeAddressesResult": {"Addresses": {
        "PublicIp": None, "NetworkInterfaceId": None, "InstanceId": None, "AllocationId": None,
        "AssociationId": None, "Tags": _TAGS,
    }},
    "DescribeNetworkInterfacesResult": {"NextToken": None, "NetworkInterfaces": {
        "NetworkInterfaceId": None, "Attachment": {"InstanceId": None},
    }},
}


def blank_to_none(value: Any) -> Any:
    """EC2 (and moto) send empty elements for absent references; treat them as absent."""
    return value if value not in ("", None) else None


def tags_of(raw_tags: Iterable[Raw] | None) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value") or "") for t in raw_tags or ()}


def cluster_of(tags: Mapping[str, str]) -> str | None:
    """The Gardener technical id in a `kubernetes.io/cluster/<id>` tag, if any.

    Only ids of the form `shoot--...` count: other Kubernetes clusters (EKS, kOps) use the same tag
    key, and linking their VMs to a shoot would be wrong."""
    ids = sorted(k[len(CLUSTER_TAG_PREFIX):] for k in tags if k.startswith(CLUSTER_TAG_PREFIX))
    return next((i for i in ids if i.startswith("shoot--")), None)


def role_of(tags: Mapping[str, str]) -> str | None:
    if NODE_ROLE_TAG in tags:
        return "node"
    if _BASTION_NAME.match(tags.get("Name", "")):
        return "bastion"
    return None


def _common(account_id: str, region: str, cluster: str | None) -> dict[str, Any]:
    return {
        "provider": PROVIDER, "account_id": account_id, "region": region, "cluster": cluster,
    }


def ephemeral_ip_uid(region: str, address: str) -> str:
    return f"{PROVIDER}:{region}:{address}"


def instance_records(raw: Raw, account_id: str, region: str,
                     elastic_ips: set[str]) -> tuple[InstanceRecord, IPRecord | None]:
    """The instance, and its own public address unless that address is an Elastic IP."""
    tags = tags_of(raw.get("Tags"))
    name = tags.get("Name") or None
    cluster = cluster_of(tags)
    zone = blank_to_none((raw.get("Placement") or {}).get("AvailabilityZone"))
    state = str((raw.get("State") or {}).get("Name") or "").lower() or None
    instance_id = str(raw["InstanceId"])
    public_ip = blank_to_none(raw.get("PublicIpAddress"))
    record = InstanceRecord(
        uid=instance_id, name=name, zone=zone, state=state, tags=tags, created=raw.get("LaunchTime"),
        instance_type=blank_to_none(raw.get("InstanceType")),
        status=state if state in _STATES else "unknown", role=role_of(tags),
        private_ip=blank_to_none(raw.get("PrivateIpAddress")), public_ip=public_ip,
        network=blank_to_none(raw.get("VpcId")),
        provider_id=f"aws:///{zone or ''}/{instance_id}",
        cluster_name_key=f"{cluster}/{name}" if cluster and name else None,
        **_common(account_id, region, cluster),
    )
    if public_ip is None or public_ip in elastic_ips:
        return record, None
    holder = next((n.get("NetworkInterfaceId") for n in raw.get("NetworkInterfaces") or ()
                   if ((n.get("Association") or {}).get("PublicIp")) == public_ip), None)
    ip = IPRecord(
        uid=ephemeral_ip_uid(region, public_ip), zone=zone, address=public_ip, ephemeral=True,
        allocation="dynamic", attached=True, attached_to=blank_to_none(holder) or instance_id,
        instance_ref=instance_id, **_common(account_id, region, cluster),
    )
    return record, ip


def _latest(times: Iterable[datetime | None]) -> datetime | None:
    present = [t for t in times if t is not None]
    return max(present) if present else None


def volume_record(raw: Raw, account_id: str, region: str) -> DiskRecord:
    tags = tags_of(raw.get("Tags"))
    attachments = [a for a in raw.get("Attachments") or () if a.get("State", "attached") in _ATTACHED_STATES]
    instances = [str(a["InstanceId"]) for a in attachments if blank_to_none(a.get("InstanceId"))]
    return DiskRecord(
        uid=str(raw["VolumeId"]), name=tags.get("Name") or None, zone=blank_to_none(raw.get("AvailabilityZone")),
        state=str(raw.get("State") or "").lower() or None, tags=tags, created=raw.get("CreateTime"),
        size_gb=raw.get("Size"), disk_type=blank_to_none(raw.get("VolumeType")),
        boot=any(a.get("Device") in ROOT_DEVICE_NAMES for a in attachments),
        attached=bool(instances), attached_instances=instances,
        last_attached=_latest(a.get("AttachTime") for a in attachments),
        instance_ref=instances[0] if instances else None,
        **_common(account_id, region, cluster_of(tags)),
    )


def address_record(raw: Raw, account_id: str, region: str, eni_instances: Mapping[str, str]) -> IPRecord:
    """An Elastic IP. `eni_instances` maps network interface ids to the instance they are attached to,
    for addresses associated with an interface rather than (visibly) with an instance."""
    tags = tags_of(raw.get("Tags"))
    address = str(raw["PublicIp"])
    eni = blank_to_none(raw.get("NetworkInterfaceId"))
    instance = blank_to_none(raw.get("InstanceId")) or (eni_instances.get(eni) if eni else None)
    # EC2-Classic addresses (domain "standard") have no allocation id.
    uid = blank_to_none(raw.get("AllocationId")) or ephemeral_ip_uid(region, address)
    return IPRecord(
        uid=uid, name=tags.get("Name") or None, tags=tags, address=address, ephemeral=False, allocation="elastic",
        attached=bool(eni or instance or blank_to_none(raw.get("AssociationId"))),
        attached_to=eni or instance, instance_ref=instance,
        **_common(account_id, region, cluster_of(tags)),
    )
