"""The clouds' machine type catalogues: one `machine_types` scope per account and region.

A catalogue is the same for every account in a region, so each collector reads it once per region
per collection (`RegionCatalogue`) and hands the same records to every account's scope: each scope
stays complete on its own (its sweep removes only types the region no longer offers) while the
cloud is asked once. What is read is mapped to MachineType records (graph_schema/hardware.py),
uid `<provider>:<region>:<type>`, the key an Instance's `machine_type_ref` derives.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from collectors.contract import Kind
from collectors.records import RECORD_BY_LABEL, Record

MACHINE_TYPES = Kind("machine_types", "MachineType")
MachineTypeRecord = RECORD_BY_LABEL["MachineType"]
# Architectures as Kubernetes names them (a CloudProfile's `architecture`), from the clouds' words.
ARCHITECTURES = {"x86_64": "amd64", "x64": "amd64", "amd64": "amd64", "i386": "386",
                 "arm64": "arm64", "aarch64": "arm64", "arm64_mac": "arm64"}


def machine_type_uid(provider: str, region: str, name: str) -> str:
    return f"{provider}:{region}:{name}"


def architecture(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return ARCHITECTURES.get(value.lower(), value.lower())


def machine_type(provider: str, region: str, name: str, *, vcpus: int | None, memory_mib: int | None,
                 gpu_count: int = 0, gpu_model: str | None = None, arch: str | None = "amd64") -> Record:
    return MachineTypeRecord(uid=machine_type_uid(provider, region, name), provider=provider, region=region,
                             name=name, vcpus=vcpus, memory_mib=memory_mib, gpu_count=gpu_count,
                             gpu_model=gpu_model, architecture=arch, usable=True, cloud_profile=None)


class RegionCatalogue:
    """The records of each region's catalogue, read at most once per collector instance (one
    collection). A read that fails is not kept: the next scope asking for that region tries again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._region_locks: dict[str, threading.Lock] = {}
        self._read: dict[str, list[Record]] = {}

    def get(self, region: str, read: Callable[[], Iterable[Record]]) -> list[Record]:
        with self._lock:
            region_lock = self._region_locks.setdefault(region, threading.Lock())
        with region_lock:
            if region not in self._read:
                self._read[region] = list(read())
            return self._read[region]

    def reads(self) -> int:
        return len(self._read)
