"""Compute Engine persistent disks (zonal and regional) -> DiskRecord.

`boot` is read from the disk itself: a disk created from an image (`sourceImage`) is a boot disk.
That also marks a detached, left-over boot disk (an instance's `disks[].boot` cannot, once the
instance is gone) and needs no second read of the instances; a data volume that a worker pool
creates from an image (rare) is reported as boot too.
"""

from __future__ import annotations

from collections.abc import Iterator

from google.api_core import gapic_v1
from google.api_core.retry import Retry
from google.cloud import compute_v1

from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.gcp import gardener_marks
from collectors.gcp.paging import aggregated_items
from collectors.gcp.timestamps import parse_timestamp
from collectors.gcp.urls import is_instance_url, last_segment, region_of_zone, resource_path
from collectors.records import DiskRecord


def disk_uid(project: str, disk: compute_v1.Disk) -> str:
    if disk.zone:
        return f"projects/{project}/zones/{last_segment(disk.zone)}/disks/{disk.name}"
    return f"projects/{project}/regions/{last_segment(disk.region)}/disks/{disk.name}"


def disk_record(project: str, disk: compute_v1.Disk) -> DiskRecord:
    zone = last_segment(disk.zone) or None
    region = region_of_zone(zone) if zone else (last_segment(disk.region) or None)
    labels = dict(disk.labels)
    cluster = gardener_marks.cluster_of(labels)
    users = [resource_path(u) for u in disk.users]
    attached_instances = [u for u in users if is_instance_url(u)]
    return DiskRecord(
        uid=disk_uid(project, disk),
        provider="gcp",
        account_id=project,
        region=region,
        zone=zone,
        name=disk.name,
        state=disk.status.lower() if disk.status else None,
        tags=labels,
        created=parse_timestamp(disk.creation_timestamp),
        cluster=cluster,
        size_gb=int(disk.size_gb) if disk.size_gb else None,
        disk_type=last_segment(disk.type_) or None,
        boot=bool(disk.source_image),
        attached=bool(users),
        attached_instances=attached_instances,
        last_attached=parse_timestamp(disk.last_attach_timestamp),
        last_detached=parse_timestamp(disk.last_detach_timestamp),
        instance_ref=attached_instances[0] if attached_instances else None,
    )


def collect_disks(client: compute_v1.DisksClient, project: str,
                  retry: Retry | None = None,
                  page_size: int | None = None, timeout: float | None = None,
                  max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[DiskRecord]:
    """Every disk of the project, zonal and regional, page by page."""
    request = compute_v1.AggregatedListDisksRequest(project=project)
    if page_size:
        request.max_results = page_size
    how = retry if retry is not None else gapic_v1.method.DEFAULT
    pager = client.aggregated_list(request=request, retry=how, timeout=timeout or gapic_v1.method.DEFAULT)
    for _scope, scoped in aggregated_items(pager, f"disks of {project}", max_pages):
        for disk in scoped.disks:
            yield disk_record(project, disk)
