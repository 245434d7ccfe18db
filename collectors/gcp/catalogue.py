"""Compute Engine machineTypes.aggregatedList (every zone of a project) -> MachineType records, one
per region and type (a type a region offers in any of its zones)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.api_core import gapic_v1
from google.cloud import compute_v1

from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.catalogue import architecture, machine_type
from collectors.gcp.paging import aggregated_items
from collectors.gcp.urls import region_of_zone
from collectors.records import Record

SOURCE = "gcp"


def machine_type_record(item: Any, region: str) -> Record:
    accelerators = list(item.accelerators or ())
    models = sorted({a.guest_accelerator_type for a in accelerators if a.guest_accelerator_type})
    arch = architecture(getattr(item, "architecture", "") or "") or "amd64"
    return machine_type(SOURCE, region, item.name, vcpus=item.guest_cpus, memory_mib=item.memory_mb,
                        gpu_count=sum(int(a.guest_accelerator_count or 0) for a in accelerators),
                        gpu_model=", ".join(models) or None, arch=arch)


def collect_machine_types(client: compute_v1.MachineTypesClient, project: str, retry: Any = None,
                          page_size: int | None = None, timeout: float | None = None,
                          max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[Record]:
    request = compute_v1.AggregatedListMachineTypesRequest(project=project)
    if page_size:
        request.max_results = page_size
    how = retry if retry is not None else gapic_v1.method.DEFAULT
    pager = client.aggregated_list(request=request, retry=how, timeout=timeout or gapic_v1.method.DEFAULT)
    seen: set[tuple[str, str]] = set()
    for scope, scoped in aggregated_items(pager, f"machine types of {project}", max_pages):
        region = region_of_zone(scope.rsplit("/", 1)[-1])
        for item in scoped.machine_types:
            if (region, item.name) not in seen:
                seen.add((region, item.name))
                yield machine_type_record(item, region)
