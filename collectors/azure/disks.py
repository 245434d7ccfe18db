"""Azure managed disks -> DiskRecord.

A disk names its VM itself (`managedBy`, plus `managedByExtended` for shared disks), so no join is
needed. OS disks are told apart by `osType`, which Azure sets on disks made from an OS image and
not on empty data disks; it survives the VM's deletion, so a leaked OS disk still reads as one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from azure.mgmt.compute import ComputeManagementClient

from collectors.azure.arm import DISKS_API, arm_items, subscription_path
from collectors.azure.common import PROVIDER, arm_time, first, lower, tags_of, text
from collectors.azure.gardener import cluster_of
from collectors.azure.ids import key, parse
from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.json_paths import dig
from collectors.records import DiskRecord


def disk_record(disk: Mapping[str, Any], subscription_id: str) -> DiskRecord:
    """One managed disk (ARM JSON as the list answers it, or the SDK's model of it) -> DiskRecord."""
    disk_id = str(disk.get("id") or "")
    parsed = parse(disk_id)
    tags = tags_of(disk.get("tags"))
    cluster = cluster_of(tags, parsed.resource_group if parsed else None)
    props = disk.get("properties")
    has_props = isinstance(props, Mapping)
    owners: list[str] = []
    for owner in [disk.get("managedBy"), *(disk.get("managedByExtended") or [])]:
        if owner and key(owner) not in owners:
            owners.append(key(owner))
    attached = bool(owners)
    # The time ownership last changed is an attach when the disk has an owner now, else a detach.
    ownership_changed = arm_time(dig(props, "LastOwnershipUpdateTime"))  # capitalised in ARM
    size = dig(props, "diskSizeGB")
    return DiskRecord(
        uid=key(disk_id),
        provider=PROVIDER,
        account_id=subscription_id,
        region=lower(disk.get("location")),
        zone=first(disk.get("zones")),
        name=disk.get("name"),
        state=lower(dig(props, "diskState")),
        tags=tags,
        created=arm_time(dig(props, "timeCreated")),
        cluster=cluster,
        size_gb=int(size) if size is not None else None,
        disk_type=text(dig(disk, "sku", "name")),
        boot=has_props and dig(props, "osType") is not None,
        attached=attached,
        attached_instances=owners,
        last_attached=ownership_changed if attached else None,
        last_detached=ownership_changed if not attached else None,
        instance_ref=owners[0] if owners else None,
    )


def collect_disks(compute: ComputeManagementClient, subscription_id: str,
                  max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[DiskRecord]:
    for disk in arm_items(compute, subscription_path(compute, "Microsoft.Compute/disks"), DISKS_API,
                          f"disks of subscription {subscription_id}", max_pages):
        if disk.get("id"):
            yield disk_record(disk, subscription_id)
