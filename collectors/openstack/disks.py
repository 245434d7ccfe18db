"""Cinder volumes -> DiskRecord."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.openstack.common import PROVIDER, listed, parse_timestamp, string_map
from collectors.openstack.gardener import cluster_from_volume_metadata
from collectors.records import DiskRecord


def disk_record(volume: Any, project: str, region: str) -> DiskRecord:
    """Map one openstacksdk Volume (details=True) to a DiskRecord.

    `boot` is Cinder's `bootable` flag: the volume holds an image and can boot a server (Nova's
    boot-from-volume root disks have it); Cinder does not say which attachment is a server's root.
    """
    metadata = string_map(volume.metadata)
    cluster = cluster_from_volume_metadata(metadata)
    attachments = [a for a in (volume.attachments or []) if isinstance(a, dict)]
    servers = list(dict.fromkeys(str(a["server_id"]) for a in attachments if a.get("server_id")))
    attached_at = [t for t in (parse_timestamp(a.get("attached_at")) for a in attachments) if t]
    return DiskRecord(
        uid=volume.id,
        provider=PROVIDER,
        account_id=project,
        region=region,
        zone=volume.availability_zone or None,
        name=volume.name or None,
        state=volume.status.lower() if volume.status else None,
        tags=metadata,
        created=parse_timestamp(volume.created_at),
        cluster=cluster,
        size_gb=volume.size,
        disk_type=volume.volume_type or None,
        boot=bool(volume.is_bootable),
        attached=bool(servers),
        attached_instances=servers,
        last_attached=max(attached_at) if attached_at else None,
        instance_ref=servers[0] if servers else None,
    )


def collect_disks(conn: Any, project: str, region: str, max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[DiskRecord]:
    """Stream the project's volumes in `conn`'s region, page by page."""
    for volume in listed(conn.block_storage.volumes(details=True), f"volumes of {project} in {region}",
                         max_pages):
        yield disk_record(volume, project, region)
