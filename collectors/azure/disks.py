"""Azure managed disks -> DiskRecord.

A disk names its VM itself (`managedBy`, plus `managedByExtended` for shared disks), so no join is
needed. OS disks are told apart by `osType`, which Azure sets on disks made from an OS image and
not on empty data disks; it survives the VM's deletion, so a leaked OS disk still reads as one.
"""

from __future__ import annotations

from collections.abc import Iterator

from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute.models import Disk

from collectors.azure.common import PROVIDER, first, lower, paged, tags_of, text
from collectors.azure.gardener import cluster_of
from collectors.azure.ids import key, parse
from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.records import DiskRecord


def disk_record(disk: Disk, subscription_id: str) -> DiskRecord:
    disk_id = disk.id or ""
    parsed = parse(disk_id)
    tags = tags_of(disk.tags)
    cluster = cluster_of(tags, parsed.resource_group if parsed else None)
    location = lower(disk.location)
    props = disk.properties
    owners: list[str] = []
    for owner in [disk.managed_by, *(disk.managed_by_extended or [])]:
        if owner and key(owner) not in owners:
            owners.append(key(owner))
    state = lower(props.disk_state) if props is not None else None
    attached = bool(owners)
    # The time ownership last changed is an attach when the disk has an owner now, else a detach.
    ownership_changed = props.last_ownership_update_time if props is not None else None
    return DiskRecord(
        uid=key(disk_id),
        provider=PROVIDER,
        account_id=subscription_id,
        region=location,
        zone=first(disk.zones),
        name=disk.name,
        state=state,
        tags=tags,
        created=props.time_created if props is not None else None,
        cluster=cluster,
        size_gb=props.disk_size_gb if props is not None else None,
        disk_type=text(disk.sku.name) if disk.sku is not None else None,
        boot=props is not None and props.os_type is not None,
        attached=attached,
        attached_instances=owners,
        last_attached=ownership_changed if attached else None,
        last_detached=ownership_changed if not attached else None,
        instance_ref=owners[0] if owners else None,
    )


def collect_disks(compute: ComputeManagementClient, subscription_id: str,
                  max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[DiskRecord]:
    for disk in paged(compute.disks.list(), f"disks of subscription {subscription_id}", max_pages):
        if disk.id:
            yield disk_record(disk, subscription_id)
