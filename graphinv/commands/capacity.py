"""`graphinv capacity`: vCPUs, memory and GPUs of the running VMs, and how much of it is wasted."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from graphinv.capacity import GROUPINGS, capacity, instance_verdicts, totals
from graphinv.commands.common import config, connected, emit, fail

COLUMNS = ["group", "vms", "vcpus", "memory_gib", "gpus", "gpus_by_model", "orphan_vms", "orphan_vcpus",
           "orphan_gpus", "unverified_vms", "unverified_vcpus", "unverified_gpus", "wasted_vcpu_share", "unknown_vms"]
JSON_COLUMNS = [*COLUMNS, "memory_mib", "orphan_memory_mib", "unverified_memory_mib"]


def _models(gpus: dict[str, int]) -> str:
    return ", ".join(f"{model}: {count}" for model, count in sorted(gpus.items())) or "-"


def capacity_command(
    by: Annotated[str, typer.Option("--by", help="provider, project, shoot, seed or pool")] = "provider",
    gpu_only: Annotated[bool, typer.Option("--gpu-only", help="only VMs whose type has GPUs")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or csv")] = "table",
) -> None:
    """vCPUs, memory and GPUs (by model) of the running VMs, and the share orphan and unverified VMs hold."""
    if by not in GROUPINGS:
        fail(f"--by must be one of {', '.join(GROUPINGS)}")
    if fmt not in ("table", "json", "csv"):
        fail(f"unknown format {fmt!r}; use table, json or csv")
    cfg = config()
    with connected(cfg) as graph:
        orphans, unverified = instance_verdicts(graph, cfg.orphans.max_staleness)
        rows = capacity(graph, by, gpu_only, orphans, unverified)
    total = totals(rows)
    if fmt == "json":
        emit([*rows, total], fmt, JSON_COLUMNS)
        return
    shown: list[dict[str, Any]] = [{**r, "gpus_by_model": _models(r["gpus_by_model"])} for r in [*rows, total]]
    emit(shown, fmt, COLUMNS if fmt == "table" else JSON_COLUMNS,
         title=f"capacity of running VMs by {by}" + (" (GPU types only)" if gpu_only else ""))
