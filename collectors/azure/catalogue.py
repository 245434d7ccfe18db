"""Azure resource SKUs (Microsoft.Compute/skus, the VM sizes of each location) -> MachineType records.

Only `virtualMachines` SKUs are machine types; each is recorded once per location it lists. A
location a SKU is restricted in (`restrictions` of type Location) does not offer it."""

from __future__ import annotations

from collections.abc import Container, Iterator
from typing import Any

from azure.core.exceptions import HttpResponseError

from collectors.azure.common import PROVIDER, AzureReadError, answer_error
from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.catalogue import architecture, machine_type
from collectors.contract import guarded_items
from collectors.records import Record


def capability(sku: Any, name: str) -> str | None:
    return next((c.value for c in sku.capabilities or () if c.name == name), None)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def restricted_locations(sku: Any) -> set[str]:
    out: set[str] = set()
    for restriction in sku.restrictions or ():
        if str(restriction.type).lower().endswith("location"):
            out |= {str(v).lower() for v in restriction.values or ()}
    return out


def sku_records(sku: Any, only: Container[str] | None = None) -> Iterator[Record]:
    if (sku.resource_type or "").lower() != "virtualmachines" or not sku.name:
        return
    vcpus, memory_gb = _number(capability(sku, "vCPUs")), _number(capability(sku, "MemoryGB"))
    gpus = _number(capability(sku, "GPUs"))
    restricted = restricted_locations(sku)
    for location in sku.locations or ():
        where = str(location).lower()
        if where in restricted or (only is not None and where not in only):
            continue
        yield machine_type(PROVIDER, where, sku.name, vcpus=int(vcpus) if vcpus is not None else None,
                           memory_mib=round(memory_gb * 1024) if memory_gb is not None else None,
                           gpu_count=int(gpus or 0), gpu_model=None,
                           arch=architecture(capability(sku, "CpuArchitectureType")) or "amd64")


def collect_skus(compute: Any, subscription: str, only: Container[str] | None = None,
                 max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[Record]:
    skus = guarded_items(compute.resource_skus.list(), f"resource SKUs of {subscription}", max_pages * 1000,
                         lambda sku: (sku.resource_type, sku.name, tuple(sku.locations or ()), sku.size, sku.tier))
    seen: set[str] = set()
    try:
        for sku in skus:
            for record in sku_records(sku, only):
                if record.uid not in seen:
                    seen.add(record.uid)
                    yield record
    except HttpResponseError as exc:  # one line, as every other ARM list fails (common.paged)
        raise AzureReadError(f"resource SKUs of {subscription}: {answer_error(exc)}") from None
