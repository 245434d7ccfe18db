"""Nova flavors of one region (with their extra_specs) -> MachineType records.

GPUs are read from the extra_specs operators set on GPU flavors: `pci_passthrough:alias`
(`<alias>:<count>[,<alias>:<count>]`) or `resources:VGPU` (a count, model unknown)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.catalogue import architecture, machine_type
from collectors.openstack.api import FLAVORS_MICROVERSION, items_of
from collectors.openstack.common import PROVIDER
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


def _count(value: Any) -> int | None:
    # openstacksdk's Flavor reads a missing count as 0
    return 0 if value is None else int(value)


def flavor_record(flavor: Mapping[str, Any], region: str) -> Record:
    """One Nova flavor (the API's JSON, as `GET /flavors/detail` lists it) -> a MachineType record."""
    specs = dict(flavor.get("extra_specs") or {})
    count, model = gpus_of(specs)
    return machine_type(PROVIDER, region, str(flavor.get("name") or flavor.get("original_name")),
                        vcpus=_count(flavor.get("vcpus")), memory_mib=_count(flavor.get("ram")),
                        gpu_count=count, gpu_model=model,
                        arch=architecture(specs.get("hw_architecture") or specs.get("capabilities:cpu_arch"))
                        or "amd64")


def collect_flavors(conn: Any, project: str, region: str, max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[Record]:
    # is_public=None: public and private flavors alike, as openstacksdk lists them
    for flavor in items_of(conn.compute, "/flavors/detail", "flavors", f"flavors of {project} in {region}",
                           max_pages, params={"is_public": "None"}, newest_microversion=FLAVORS_MICROVERSION):
        yield flavor_record(flavor, region)
