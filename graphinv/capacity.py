"""Capacity: what the running VMs hold (vCPUs, memory, GPUs by model), grouped by provider, project,
shoot, seed or worker pool, and the share of it held by orphan and unverified VMs ("wasted").

The sums come from queries/capacity.cypher; which VMs are orphans or unverified comes from the
orphan report's own query (queries/orphan_instances.cypher), so `graphinv orphans` and this never
disagree about a VM.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from graphinv.db import Graph
from graphinv.orphan_settings import DEFAULT_STALENESS
from graphinv.queries import load_query

GROUPINGS = ("provider", "project", "shoot", "seed", "pool")
SUMMED = ("vms", "vcpus", "memory_mib", "gpus", "unknown_vms", "orphan_vms", "orphan_vcpus", "orphan_memory_mib",
          "orphan_gpus", "unverified_vms", "unverified_vcpus", "unverified_memory_mib", "unverified_gpus")
# The hardware of given VMs, resolved as queries/capacity.cypher resolves it (cloud first, then profile).
_HARDWARE = """
UNWIND $uids AS uid
MATCH (i:Instance {uid: uid})
OPTIONAL MATCH (i)-[:OF_TYPE]->(cloud:MachineType)
OPTIONAL MATCH (s:Shoot)-[:OWNS_VM]->(i)
OPTIONAL CALL (i, s, cloud) {
  MATCH (p:MachineType) USING INDEX p:MachineType(name)
  WHERE p.name = CASE WHEN cloud IS NULL THEN i.instance_type END
    AND p.cloud_profile IS NOT NULL AND p.provider = i.provider
  RETURN p ORDER BY CASE WHEN p.cloud_profile = s.cloud_profile THEN 0 ELSE 1 END, p.uid LIMIT 1
}
WITH i, coalesce(cloud, p) AS mt
RETURN collect({uid: i.uid, vcpus: mt.vcpus, memory_mib: mt.memory_mib, gpus: mt.gpu_count, gpu_model: mt.gpu_model})
  AS rows
"""
HARDWARE_COLUMNS = ("vcpus", "memory_mib", "gpus", "gpu_model")


def instance_verdicts(graph: Graph, max_staleness: timedelta = DEFAULT_STALENESS,
                      now: datetime | None = None) -> tuple[list[str], list[str]]:
    """Uids of the orphan VMs and of the unverified candidates, as the orphan report judges them."""
    now = now or datetime.now(UTC)
    rows = load_query("orphan_instances").run(graph, provider=None, account=None, project=None, cutoff=None,
                                              fresh_after=now - max_staleness)
    return ([r["uid"] for r in rows if r["verdict"] == "orphan"],
            [r["uid"] for r in rows if r["verdict"] == "unverified"])


def hardware_of(graph: Graph, uids: list[str]) -> dict[str, dict[str, Any]]:
    """The hardware (HARDWARE_COLUMNS) of the VMs `uids`, by uid; a VM of a type no source describes is absent."""
    return {r["uid"]: r for r in graph.read_collected(_HARDWARE, {"uids": uids})} if uids else {}


def add_hardware(graph: Graph, rows: list[dict[str, Any]],
                 found: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Report rows (orphan findings) gain their VM's vcpus, memory_mib, gpus and gpu_model; rows of
    disks and IPs, and VMs of a type no source describes, get None. `found`: hardware_of() the rows' VMs,
    when the caller fetched it already."""
    if found is None:
        found = hardware_of(graph, [r["uid"] for r in rows if r.get("kind") == "instance"])
    for row in rows:
        hardware = found.get(row["uid"]) if row.get("kind") == "instance" else None
        row.update({c: hardware[c] if hardware else None for c in HARDWARE_COLUMNS})
    return rows


def merge(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per group from the query's rows per group and GPU model; GPUs by model as a map."""
    groups: dict[str, dict[str, Any]] = {}
    for row in rows:
        group = groups.setdefault(row["grp"], {"group": row["grp"], **dict.fromkeys(SUMMED, 0), "gpus_by_model": {}})
        for key in SUMMED:
            group[key] += row[key] or 0
        if row["gpus"]:
            model = row["gpu_model"] or "unknown model"
            group["gpus_by_model"][model] = group["gpus_by_model"].get(model, 0) + row["gpus"]
    out = []
    for group in groups.values():
        wasted = group["orphan_vcpus"] + group["unverified_vcpus"]
        group["memory_gib"] = round(group["memory_mib"] / 1024, 1)
        group["wasted_vcpu_share"] = round(wasted / group["vcpus"], 4) if group["vcpus"] else 0.0
        out.append(group)
    return sorted(out, key=lambda g: g["group"])


def capacity(graph: Graph, by: str = "provider", gpu_only: bool = False, orphans: list[str] | None = None,
             unverified: list[str] | None = None) -> list[dict[str, Any]]:
    """Capacity rows grouped `by` one of GROUPINGS. Without verdicts given, the orphan report's are used."""
    if by not in GROUPINGS:
        raise ValueError(f"--by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    if orphans is None or unverified is None:
        orphans, unverified = instance_verdicts(graph)
    rows = load_query("capacity").run(graph, by=by, gpu_only=gpu_only, orphans=orphans, unverified=unverified)
    return merge(rows)


def totals(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The sum over all groups (the last line of the table)."""
    total: dict[str, Any] = {"group": "total", **dict.fromkeys(SUMMED, 0), "gpus_by_model": {}}
    for row in rows:
        for key in SUMMED:
            total[key] += row[key]
        for model, count in row["gpus_by_model"].items():
            total["gpus_by_model"][model] = total["gpus_by_model"].get(model, 0) + count
    wasted = total["orphan_vcpus"] + total["unverified_vcpus"]
    total["memory_gib"] = round(total["memory_mib"] / 1024, 1)
    total["wasted_vcpu_share"] = round(wasted / total["vcpus"], 4) if total["vcpus"] else 0.0
    return total
