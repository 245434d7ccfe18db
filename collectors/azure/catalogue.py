"""Azure resource SKUs (Microsoft.Compute/skus, the VM sizes of each location) -> MachineType records.

Only `virtualMachines` SKUs are machine types; each is recorded once per location it lists. A
location a SKU is restricted in (`restrictions` of type Location) does not offer it."""

from __future__ import annotations

from collections.abc import Container, Iterator, Mapping
from typing import Any

from collectors.azure.arm import RESOURCE_SKUS_API, arm_items, subscription_path
from collectors.azure.common import PROVIDER
from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.catalogue import architecture, machine_type
from collectors.contract import guarded_items
from collectors.json_paths import dig
from collectors.records import Record


def capability(sku: Mapping[str, Any], name: str) -> str | None:
    return next((dig(c, "value") for c in sku.get("capabilities") or () if dig(c, "name") == name), None)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def restricted_locations(sku: Mapping[str, Any]) -> set[str]:
    out: set[str] = set()
    for restriction in sku.get("restrictions") or ():
        if str(dig(restriction, "type")).lower().endswith("location"):
            out |= {str(v).lower() for v in dig(restriction, "values") or ()}
    return out


def sku_records(sku: Mapping[str, Any], only: Container[str] | None = None) -> Iterator[Record]:
    """One resource SKU (ARM JSON as the list answers it) -> a MachineType record per location offering it."""
    name = sku.get("name")
    if str(sku.get("resourceType") or "").lower() != "virtualmachines" or not name:
        return
    vcpus, memory_gb = _number(capability(sku, "vCPUs")), _number(capability(sku, "MemoryGB"))
    gpus = _number(capability(sku, "GPUs"))
    restricted = restricted_locations(sku)
    for location in sku.get("locations") or ():
        where = str(location).lower()
        if where in restricted or (only is not None and where not in only):
            continue
        yield machine_type(PROVIDER, where, name, vcpus=int(vcpus) if vcpus is not None else None,
                           memory_mib=round(memory_gb * 1024) if memory_gb is not None else None,
                           gpu_count=int(gpus or 0), gpu_model=None,
                           arch=architecture(capability(sku, "CpuArchitectureType")) or "amd64")


def _sku_key(sku: Mapping[str, Any]) -> tuple[Any, ...]:
    return (sku.get("resourceType"), sku.get("name"), tuple(sku.get("locations") or ()), sku.get("size"),
            sku.get("tier"))


def collect_skus(compute: Any, subscription: str, only: Container[str] | None = None,
                 max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[Record]:
    what = f"resource SKUs of {subscription}"
    listed = arm_items(compute, subscription_path(compute, "Microsoft.Compute/skus"), RESOURCE_SKUS_API, what,
                       max_pages)
    seen: set[str] = set()
    for sku in guarded_items(listed, what, max_pages * 1000, _sku_key):
        for record in sku_records(sku, only):
            if record.uid not in seen:
                seen.add(record.uid)
                yield record
