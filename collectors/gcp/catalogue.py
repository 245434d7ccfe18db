"""Compute Engine machineTypes.aggregatedList (every zone of a project) -> MachineType records, one
per region and type (a type a region offers in any of its zones)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from google.cloud import compute_v1

from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.catalogue import architecture, machine_type
from collectors.gcp.rest import aggregated_items, api_json
from collectors.gcp.urls import region_of_zone
from collectors.records import Record

SOURCE = "gcp"


def machine_type_record(machine: Mapping[str, Any] | Any, region: str) -> Record:
    """One machine type, as the API's JSON (or the SDK's message of it)."""
    item = api_json(machine)
    accelerators = [a for a in item.get("accelerators") or () if isinstance(a, Mapping)]
    models = sorted({a["guestAcceleratorType"] for a in accelerators if a.get("guestAcceleratorType")})
    arch = architecture(item.get("architecture") or "") or "amd64"
    return machine_type(SOURCE, region, item.get("name", ""), vcpus=item.get("guestCpus", 0),
                        memory_mib=item.get("memoryMb", 0),
                        gpu_count=sum(int(a.get("guestAcceleratorCount") or 0) for a in accelerators),
                        gpu_model=", ".join(models) or None, arch=arch)


def collect_machine_types(client: compute_v1.MachineTypesClient, project: str, retry: Any = None,
                          page_size: int | None = None, timeout: float | None = None,
                          max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[Record]:
    seen: set[tuple[str, str]] = set()
    for scope, item in aggregated_items(client, project, "machineTypes", f"machine types of {project}", retry,
                                        page_size, timeout, max_pages):
        region = region_of_zone(scope.rsplit("/", 1)[-1])
        name = item.get("name", "")
        if (region, name) not in seen:
            seen.add((region, name))
            yield machine_type_record(item, region)
