"""EC2 and STS Query API response bodies (XML) for the simulator's objects.

Element names and nesting follow EC2's 2016-11-15 wire format, the shape of the botocore fixtures
in shared/api-samples/aws/: `<itemSet><item>...` lists, `tagSet`, `instanceState{code,name}`.
Only what the simulator models is written; absent values are left out, as EC2 does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any
from xml.sax.saxutils import escape

import botocore.session

from graphinv.sim.aws_world import (
    IMAGE_ID,
    PROVISIONED_IOPS,
    ROOT_DEVICE,
    STATE_CODES,
    Address,
    Ec2Instance,
    RegionWorld,
    Volume,
)

EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


def el(name: str, value: object | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{escape(str(value))}</{name}>"


def items(name: str, parts: Iterable[str]) -> str:
    body = "".join(f"<item>{p}</item>" for p in parts)
    return f"<{name}>{body}</{name}>" if body else f"<{name}/>"


def tag_set(tags: dict[str, str]) -> str:
    return items("tagSet", (el("key", k) + el("value", v) for k, v in tags.items()))


def request_id() -> str:
    return str(uuid.uuid4())


def ec2_response(action: str, body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="{EC2_NS}">'
            f"{el('requestId', request_id())}{body}</{action}Response>").encode()


def ec2_error(code: str, message: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>{el("Code", code)}'
            f"{el('Message', message)}</Error></Errors>{el('RequestID', request_id())}</Response>").encode()


def sts_response(action: str, result: str) -> bytes:
    return (f'<{action}Response xmlns="{STS_NS}"><{action}Result>{result}</{action}Result>'
            f"<ResponseMetadata>{el('RequestId', request_id())}</ResponseMetadata></{action}Response>").encode()


def sts_error(code: str, message: str, sender: bool = True) -> bytes:
    kind = "Sender" if sender else "Receiver"
    return (f'<ErrorResponse xmlns="{STS_NS}"><Error>{el("Type", kind)}{el("Code", code)}{el("Message", message)}'
            f"</Error>{el('RequestId', request_id())}</ErrorResponse>").encode()


def _dns(ip: str, region: str) -> str:
    return f"ip-{ip.replace('.', '-')}.{region}.compute.internal"


def _mac(eni_id: str) -> str:
    digits = eni_id[4:16]
    return "02:" + ":".join(digits[i:i + 2] for i in range(0, 10, 2))


def _association(account: str, inst: Ec2Instance) -> str:
    if inst.public_ip is None:
        return ""
    # AWS names the owner of an auto-assigned address "amazon", of an Elastic IP the account.
    owner = account if inst.elastic_ip is not None else "amazon"
    extra = ""
    if inst.elastic_ip is not None:
        extra = el("allocationId", inst.elastic_ip.allocation_id) + el("associationId", inst.elastic_ip.association_id)
    return (f"<association>{el('publicIp', inst.public_ip)}{el('publicDnsName', '')}{el('ipOwnerId', owner)}"
            f"{extra}</association>")


def _instance_eni(region: RegionWorld, inst: Ec2Instance) -> str:
    assert inst.private_ip is not None
    association = _association(region.account, inst)
    return (
        f"{el('networkInterfaceId', inst.eni_id)}{el('subnetId', region.subnet_ids[inst.subnet_index])}"
        f"{el('vpcId', region.vpc_id)}{el('description', 'Primary network interface')}{el('ownerId', region.account)}"
        f"{el('status', 'in-use')}{el('macAddress', _mac(inst.eni_id))}{el('privateIpAddress', inst.private_ip)}"
        f"{el('privateDnsName', _dns(inst.private_ip, region.name))}{el('sourceDestCheck', True)}<groupSet/>"
        f"<attachment>{el('attachmentId', 'eni-attach-' + inst.eni_id[4:])}{el('deviceIndex', 0)}"
        f"{el('status', 'attached')}{el('attachTime', inst.launch_time)}{el('deleteOnTermination', True)}"
        f"</attachment>{association}"
        + items("privateIpAddressesSet", [el("privateIpAddress", inst.private_ip) + el("primary", True) + association])
        + el("interfaceType", "interface")
    )


def instance_item(region: RegionWorld, inst: Ec2Instance) -> str:
    """One reservation (`reservationSet/item`) holding the instance."""
    alive = inst.private_ip is not None
    devices = [v for v in [inst.root_volume, *inst.data_volumes] if v is not None and v.attachment is not None]
    mappings = items("blockDeviceMapping", (
        el("deviceName", v.attachment.device) + "<ebs>" + el("volumeId", v.id) + el("status", "attached")
        + el("attachTime", v.attachment.attach_time) + el("deleteOnTermination", v.attachment.delete_on_termination)
        + "</ebs>" for v in devices if v.attachment is not None))
    reason = ""
    if inst.state in ("stopped", "stopping", "terminated", "shutting-down"):
        reason = "<stateReason><code>Client.UserInitiatedShutdown</code>" \
                 "<message>Client.UserInitiatedShutdown: User initiated shutdown</message></stateReason>"
    body = (
        f"{el('instanceId', inst.id)}{el('imageId', IMAGE_ID)}"
        f"<instanceState>{el('code', STATE_CODES[inst.state])}{el('name', inst.state)}</instanceState>"
        f"{el('privateDnsName', _dns(inst.private_ip, region.name) if inst.private_ip else '')}"
        f"{el('dnsName', '')}{el('reason', '')}{el('amiLaunchIndex', 0)}<productCodes/>"
        f"{el('instanceType', inst.instance_type)}{el('launchTime', inst.launch_time)}"
        f"<placement>{el('availabilityZone', inst.zone)}{el('groupName', '')}{el('tenancy', 'default')}</placement>"
        f"<monitoring>{el('state', 'disabled')}</monitoring>"
        + (el("subnetId", region.subnet_ids[inst.subnet_index]) + el("vpcId", region.vpc_id) if alive else "")
        + el("privateIpAddress", inst.private_ip) + el("ipAddress", inst.public_ip)
        + ("<groupSet/>" + el("architecture", "x86_64") + el("rootDeviceType", "ebs")
           + el("rootDeviceName", ROOT_DEVICE) + mappings + el("virtualizationType", "hvm") + el("clientToken", ""))
        + tag_set(inst.tags) + el("hypervisor", "xen")
        + items("networkInterfaceSet", [_instance_eni(region, inst)] if alive else [])
        + el("ebsOptimized", False) + reason
    )
    return (el("reservationId", "r-" + inst.id[2:]) + el("ownerId", region.account) + "<groupSet/>"
            + items("instancesSet", [body]))


def volume_item(volume: Volume) -> str:
    attachments = []
    if volume.attachment is not None:
        a = volume.attachment
        attachments.append(el("volumeId", volume.id) + el("instanceId", a.instance_id) + el("device", a.device)
                           + el("status", "attached") + el("attachTime", a.attach_time)
                           + el("deleteOnTermination", a.delete_on_termination))
    iops = PROVISIONED_IOPS.get(volume.volume_type)
    return (el("volumeId", volume.id) + el("size", volume.size_gb) + el("snapshotId", "")
            + el("availabilityZone", volume.zone) + el("status", volume.state) + el("createTime", volume.create_time)
            + items("attachmentSet", attachments) + el("volumeType", volume.volume_type) + el("iops", iops)
            + tag_set(volume.tags) + el("encrypted", False) + el("multiAttachEnabled", False))


def address_item(region: RegionWorld, address: Address) -> str:
    inst = address.instance
    body = el("publicIp", address.public_ip) + el("allocationId", address.allocation_id) + el("domain", "vpc")
    if inst is not None:
        body += (el("instanceId", inst.id) + el("associationId", address.association_id)
                 + el("networkInterfaceId", inst.eni_id) + el("networkInterfaceOwnerId", region.account)
                 + el("privateIpAddress", inst.private_ip))
    return (body + tag_set(address.tags) + el("publicIpv4Pool", "amazon")
            + el("networkBorderGroup", region.name))


def eni_item(region: RegionWorld, inst: Ec2Instance) -> str:
    """A DescribeNetworkInterfaces item: the instance's primary interface, seen on its own."""
    assert inst.private_ip is not None
    association = ""
    if inst.public_ip is not None:
        owner = region.account if inst.elastic_ip is not None else "amazon"
        association = f"<association>{el('publicIp', inst.public_ip)}{el('ipOwnerId', owner)}"
        if inst.elastic_ip is not None:
            association += el("allocationId", inst.elastic_ip.allocation_id)
            association += el("associationId", inst.elastic_ip.association_id)
        association += "</association>"
    return (
        f"{el('networkInterfaceId', inst.eni_id)}{el('subnetId', region.subnet_ids[inst.subnet_index])}"
        f"{el('vpcId', region.vpc_id)}{el('availabilityZone', inst.zone)}"
        f"{el('description', 'Primary network interface')}"
        f"{el('ownerId', region.account)}{el('requesterManaged', False)}{el('status', 'in-use')}"
        f"{el('macAddress', _mac(inst.eni_id))}{el('privateIpAddress', inst.private_ip)}{el('sourceDestCheck', True)}"
        f"<groupSet/><attachment>{el('attachmentId', 'eni-attach-' + inst.eni_id[4:])}{el('instanceId', inst.id)}"
        f"{el('instanceOwnerId', region.account)}{el('deviceIndex', 0)}{el('status', 'attached')}"
        f"{el('attachTime', inst.launch_time)}{el('deleteOnTermination', True)}</attachment>{association}<tagSet/>"
        + items("privateIpAddressesSet", [el("privateIpAddress", inst.private_ip) + el("primary", True)])
        + el("interfaceType", "interface")
    )


def region_item(name: str) -> str:
    return el("regionName", name) + el("regionEndpoint", f"ec2.{name}.amazonaws.com") + el(
        "optInStatus", "opt-in-not-required")


def from_model(shape: Any, value: Any) -> str:
    """The inner XML of `value` (in boto3's shape) as EC2 writes it, element names taken from
    botocore's own service model, so any item an upstream sample holds is served as EC2 sends it."""
    if shape.type_name == "structure":
        out = []
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                tag = member.serialization.get("name", name[:1].lower() + name[1:])
                out.append(f"<{tag}>{from_model(member, value[name])}</{tag}>")
        return "".join(out)
    if shape.type_name == "list":
        return "".join(f"<item>{from_model(shape.member, v)}</item>" for v in value)
    if shape.type_name == "boolean":
        return "true" if value else "false"
    return escape(str(value))


def instance_type_items(items: Iterable[dict[str, Any]]) -> str:
    """`<instanceTypeSet>` of DescribeInstanceTypes."""
    model = botocore.session.get_session().get_service_model("ec2")
    shape = model.operation_model("DescribeInstanceTypes").output_shape.members["InstanceTypes"]
    return f"<instanceTypeSet>{from_model(shape, list(items))}</instanceTypeSet>"
