"""Compute Engine persistent disks (zonal and regional) -> DiskRecord.

`boot` is read from the disk itself: a disk created from an image (`sourceImage`) is a boot disk.
That also marks a detached, left-over boot disk (an instance's `disks[].boot` cannot, once the
instance is gone) and needs no second read of the instances; a data volume that a worker pool
creates from an image (rare) is reported as boot too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from google.api_core.retry import Retry
from google.cloud import compute_v1

from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.gcp import gardener_marks
from collectors.gcp.rest import aggregated_items, api_json
from collectors.gcp.timestamps import parse_timestamp
from collectors.gcp.urls import is_instance_url, last_segment, region_of_zone, resource_path
from collectors.records import DiskRecord


def disk_uid(project: str, disk: Mapping[str, Any]) -> str:
    zone, name = disk.get("zone"), disk.get("name", "")
    if zone:
        return f"projects/{project}/zones/{last_segment(zone)}/disks/{name}"
    return f"projects/{project}/regions/{last_segment(disk.get('region', ''))}/disks/{name}"


def disk_record(project: str, item: Mapping[str, Any] | compute_v1.Disk) -> DiskRecord:
    """One disk, as the API's JSON (or the SDK's message of it)."""
    disk = api_json(item)
    zone = last_segment(disk.get("zone", "")) or None
    region = region_of_zone(zone) if zone else (last_segment(disk.get("region", "")) or None)
    labels = dict(disk.get("labels") or {})
    cluster = gardener_marks.cluster_of(labels)
    users = [resource_path(u) for u in disk.get("users") or ()]
    attached_instances = [u for u in users if is_instance_url(u)]
    status = disk.get("status", "")
    return DiskRecord(
        uid=disk_uid(project, disk),
        provider="gcp",
        account_id=project,
        region=region,
        zone=zone,
        name=disk.get("name", ""),
        state=status.lower() if status else None,
        tags=labels,
        created=parse_timestamp(disk.get("creationTimestamp")),
        cluster=cluster,
        size_gb=int(disk.get("sizeGb") or 0) or None,  # int64: a string in the JSON
        disk_type=last_segment(disk.get("type", "")) or None,
        boot=bool(disk.get("sourceImage")),
        attached=bool(users),
        attached_instances=attached_instances,
        last_attached=parse_timestamp(disk.get("lastAttachTimestamp")),
        last_detached=parse_timestamp(disk.get("lastDetachTimestamp")),
        instance_ref=attached_instances[0] if attached_instances else None,
    )


def collect_disks(client: compute_v1.DisksClient, project: str,
                  retry: Retry | None = None,
                  page_size: int | None = None, timeout: float | None = None,
                  max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[DiskRecord]:
    """Every disk of the project, zonal and regional, page by page (as JSON through the client's
    own transport: collectors/gcp/rest.py)."""
    for _scope, disk in aggregated_items(client, project, "disks", f"disks of {project}", retry, page_size, timeout,
                                         max_pages):
        yield disk_record(project, disk)
