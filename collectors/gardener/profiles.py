"""Gardener CloudProfiles (core.gardener.cloud/v1beta1) -> a CloudProfile record and one MachineType
record per `spec.machineTypes[]` entry (the landscape's own catalogue; graph_schema/hardware.py).

Quantities are Kubernetes quantities ("4", "500m", "16Gi", "15360Mi", "8G"); one that cannot be read
becomes None for that field and the entry is kept, so one odd entry cannot stop the read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from collectors.records import RECORD_BY_LABEL, Record

CloudProfileRecord = RECORD_BY_LABEL["CloudProfile"]
MachineTypeRecord = RECORD_BY_LABEL["MachineType"]

_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
_ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "arm64": "arm64", "aarch64": "arm64", "i386": "386"}


def quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity as a number (of bytes, cores, ...); None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value)
    if not match:
        return None
    number, suffix = match.groups()
    try:
        amount = Decimal(number)
    except InvalidOperation:
        return None
    if suffix == "m":
        return amount / 1000
    factor = _BINARY.get(suffix) or _DECIMAL.get(suffix)
    return amount * factor if factor is not None else None


def whole(value: Decimal | None) -> int | None:
    return int(value) if value is not None else None


def architecture(value: Any) -> str | None:
    return _ARCHITECTURES.get(str(value).lower(), str(value)) if isinstance(value, str) and value else None


def profile_records(obj: dict[str, Any]) -> Iterator[Record]:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    name = str(meta.get("name") or "")
    if not name:
        return
    provider = spec.get("type") if isinstance(spec.get("type"), str) else None
    yield CloudProfileRecord(
        uid=name, name=name, provider=provider,
        regions=[str(r["name"]) for r in spec.get("regions") or () if isinstance(r, dict) and r.get("name")],
        volume_types=[str(v["name"]) for v in spec.get("volumeTypes") or () if isinstance(v, dict) and v.get("name")],
    )
    for entry in spec.get("machineTypes") or ():
        if not isinstance(entry, dict) or not entry.get("name"):
            continue
        memory = quantity(entry.get("memory"))
        gpus = whole(quantity(entry.get("gpu"))) or 0
        yield MachineTypeRecord(
            uid=f"cloudprofile:{name}:{entry['name']}", provider=provider, region=None, name=str(entry["name"]),
            vcpus=whole(quantity(entry.get("cpu"))),
            memory_mib=int(memory / _BINARY["Mi"]) if memory is not None else None,
            gpu_count=gpus, gpu_model=None,
            architecture=architecture(entry.get("architecture")) or "amd64",
            usable=entry.get("usable") is not False,  # absent means usable
            cloud_profile=name,
        )
