"""Cinder volumes -> DiskRecord."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.openstack.api import VOLUMES_MICROVERSION, items_of
from collectors.openstack.common import PROVIDER, parse_timestamp, string_map
from collectors.openstack.gardener import cluster_from_volume_metadata
from collectors.records import DiskRecord


def bool_str(value: Any) -> bool:
    """Cinder's `bootable` is the string "true"/"false" (a bool in some answers)."""
    return value if isinstance(value, bool) else str(value or "").strip().lower() == "true"


def disk_record(volume: Mapping[str, Any], project: str, region: str) -> DiskRecord:
    """Map one Cinder volume (the API's JSON, as `GET /volumes/detail` lists it) to a DiskRecord.

    `boot` is Cinder's `bootable` flag: the volume holds an image and can boot a server (Nova's
    boot-from-volume root disks have it); Cinder does not say which attachment is a server's root.
    """
    metadata = string_map(volume.get("metadata"))
    cluster = cluster_from_volume_metadata(metadata)
    attachments = [a for a in (volume.get("attachments") or []) if isinstance(a, dict)]
    servers = list(dict.fromkeys(str(a["server_id"]) for a in attachments if a.get("server_id")))
    attached_at = [t for t in (parse_timestamp(a.get("attached_at")) for a in attachments) if t]
    status, size = volume.get("status"), volume.get("size")
    return DiskRecord(
        uid=str(volume["id"]),
        provider=PROVIDER,
        account_id=project,
        region=region,
        zone=volume.get("availability_zone") or None,
        name=volume.get("name") or None,
        state=status.lower() if status else None,
        tags=metadata,
        created=parse_timestamp(volume.get("created_at")),
        cluster=cluster,
        size_gb=int(size) if size is not None else None,
        disk_type=volume.get("volume_type") or None,
        boot=bool_str(volume.get("bootable")),
        attached=bool(servers),
        attached_instances=servers,
        last_attached=max(attached_at) if attached_at else None,
        instance_ref=servers[0] if servers else None,
    )


def collect_disks(conn: Any, project: str, region: str, max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[DiskRecord]:
    """Stream the project's volumes in `conn`'s region, page by page."""
    for volume in items_of(conn.block_storage, "/volumes/detail", "volumes", f"volumes of {project} in {region}",
                           max_pages, newest_microversion=VOLUMES_MICROVERSION):
        yield disk_record(volume, project, region)
