"""EC2 DescribeInstanceTypes (one region's catalogue) -> MachineType records."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from collectors.aws.collect import pages_of
from collectors.aws.mapping import PROVIDER
from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.catalogue import architecture, machine_type
from collectors.records import Record

INSTANCE_TYPE_PAGE = 100  # EC2's maximum for DescribeInstanceTypes


def instance_type_record(raw: Mapping[str, Any], region: str) -> Record:
    gpus = list((raw.get("GpuInfo") or {}).get("Gpus") or ())
    models = sorted({" ".join(str(p) for p in (g.get("Manufacturer"), g.get("Name")) if p) for g in gpus} - {""})
    arches = [architecture(a) for a in (raw.get("ProcessorInfo") or {}).get("SupportedArchitectures") or ()]
    arch = "amd64" if "amd64" in arches else next((a for a in arches if a), None)
    return machine_type(
        PROVIDER, region, str(raw["InstanceType"]),
        vcpus=(raw.get("VCpuInfo") or {}).get("DefaultVCpus"),
        memory_mib=(raw.get("MemoryInfo") or {}).get("SizeInMiB"),
        gpu_count=sum(int(g.get("Count") or 0) for g in gpus),
        gpu_model=", ".join(models) or None, arch=arch,
    )


def collect_instance_types(ec2: Any, region: str, max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[Record]:
    pages = pages_of(ec2, "describe_instance_types", max_pages, PaginationConfig={"PageSize": INSTANCE_TYPE_PAGE})
    for page in pages:
        for raw in page.get("InstanceTypes", ()):
            yield instance_type_record(raw, region)
