"""Nova flavors of one region (with their extra_specs) -> MachineType records.

GPUs are read from the extra_specs operators set on GPU flavors: `pci_passthrough:alias`
(`<alias>:<count>[,<alias>:<count>]`) or `resources:VGPU` (a count, model unknown)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.catalogue import architecture, machine_type
from collectors.openstack.common import PROVIDER, listed
from collectors.records import Record


def gpus_of(specs: Mapping[str, Any]) -> tuple[int, str | None]:
    aliases: dict[str, int] = {}
    for part in str(specs.get("pci_passthrough:alias") or "").split(","):
        name, _, count = part.strip().partition(":")
        if name:
            aliases[name] = aliases.get(name, 0) + (int(count) if count.isdigit() else 1)
    if aliases:
        return sum(aliases.values()), ", ".join(sorted(aliases))
    vgpus = str(specs.get("resources:VGPU") or "")
    return (int(vgpus), None) if vgpus.isdigit() else (0, None)


def flavor_record(flavor: Any, region: str) -> Record:
    specs = dict(getattr(flavor, "extra_specs", None) or {})
    count, model = gpus_of(specs)
    return machine_type(PROVIDER, region, str(flavor.name), vcpus=flavor.vcpus, memory_mib=flavor.ram,
                        gpu_count=count, gpu_model=model,
                        arch=architecture(specs.get("hw_architecture") or specs.get("capabilities:cpu_arch"))
                        or "amd64")


def collect_flavors(conn: Any, project: str, region: str, max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[Record]:
    for flavor in listed(conn.compute.flavors(details=True), f"flavors of {project} in {region}", max_pages):
        yield flavor_record(flavor, region)
