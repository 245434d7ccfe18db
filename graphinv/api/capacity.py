"""`capacity` on Project, Shoot and Seed: what their running VMs hold (vCPUs, memory, GPUs by model).

A VM's hardware is resolved as queries/capacity.cypher does it: the cloud catalogue's MachineType
(OF_TYPE) first, else its shoot's CloudProfile entry. One query per label and query level (a
DataLoader batches the parents). The orphan share is `graphinv capacity`'s: it needs the orphan
report's verdicts, which are too costly to compute per API request.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from graphinv.api.context import Info, RequestContext

# The running VMs of each parent, by label (the parent is `n`).
_VMS = {
    "Project": "MATCH (n)-[:HAS_SHOOT]->(:Shoot)-[:OWNS_VM]->(i:Instance {status: 'running'})",
    "Shoot": "MATCH (n)-[:OWNS_VM]->(i:Instance {status: 'running'})",
    "Seed": "MATCH (n)-[:HOSTS]->(:Shoot)-[:OWNS_VM]->(i:Instance {status: 'running'})",
}
_QUERY = """
UNWIND $uids AS uid
MATCH (n:{label} {{uid: uid}})
CALL (n) {{
  {vms}
  OPTIONAL MATCH (i)-[:OF_TYPE]->(cloud:MachineType)
  OPTIONAL MATCH (s:Shoot)-[:OWNS_VM]->(i)
  WITH i, coalesce(cloud, COLLECT {{
      MATCH (p:MachineType {{name: i.instance_type}})
      WHERE p.cloud_profile IS NOT NULL AND p.provider = i.provider
      RETURN p ORDER BY CASE WHEN p.cloud_profile = s.cloud_profile THEN 0 ELSE 1 END, p.uid LIMIT 1
    }}[0]) AS mt
  RETURN mt.gpu_model AS model, count(i) AS vms, sum(coalesce(mt.vcpus, 0)) AS vcpus,
         sum(coalesce(mt.memory_mib, 0)) AS memory_mib, sum(coalesce(mt.gpu_count, 0)) AS gpus,
         sum(CASE WHEN mt.vcpus IS NULL THEN 1 ELSE 0 END) AS unknown
}}
RETURN uid, model, vms, vcpus, memory_mib, gpus, unknown
"""


@strawberry.type(description="GPUs of one model.")
class GpuCount:
    model: str
    count: int


@strawberry.type(description="What the running VMs hold: the cloud's catalogue for their type, else their "
                             "CloudProfile's entry. VMs of a type neither describes count in unknownVms only.")
class Capacity:
    vms: int
    vcpus: int
    memory_mib: int
    gpus: int
    gpus_by_model: list[GpuCount]
    unknown_vms: int


def summarize(rows: list[dict[str, Any]]) -> Capacity:
    models: dict[str, int] = {}
    for row in rows:
        if row["gpus"]:
            name = row["model"] or "unknown model"
            models[name] = models.get(name, 0) + row["gpus"]
    return Capacity(vms=sum(r["vms"] for r in rows), vcpus=sum(r["vcpus"] for r in rows),
                    memory_mib=sum(r["memory_mib"] for r in rows), gpus=sum(r["gpus"] for r in rows),
                    gpus_by_model=[GpuCount(model=m, count=c) for m, c in sorted(models.items())],
                    unknown_vms=sum(r["unknown"] for r in rows))


def _loader(ctx: RequestContext, label: str) -> DataLoader[str, Capacity]:
    loaders: dict[str, DataLoader[str, Capacity]] = ctx.__dict__.setdefault("_capacity_loaders", {})
    loader = loaders.get(label)
    if loader is None:
        query = _QUERY.format(label=label, vms=_VMS[label])

        async def load(uids: list[str]) -> list[Capacity]:
            rows = await ctx.db.fetch(query, {"uids": uids})
            by_uid: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                if row["vms"]:
                    by_uid.setdefault(row["uid"], []).append(row)
            return [summarize(by_uid.get(uid, [])) for uid in uids]

        loader = DataLoader(load_fn=load)
        loaders[label] = loader
    return loader


def capacity_fields(label: str) -> dict[str, Any]:
    """The `capacity` field for the node types that have one (Project, Shoot, Seed)."""
    if label not in _VMS:
        return {}

    async def resolve(root: Any, info: Info) -> Capacity:
        return await _loader(info.context, label).load(root.uid)

    described = f"vCPUs, memory and GPUs of this {label.lower()}'s running VMs (those its shoots own)."
    return {"capacity": strawberry.field(resolver=resolve, description=described)}
