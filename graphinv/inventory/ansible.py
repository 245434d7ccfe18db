"""An Ansible dynamic inventory of the graph's VMs (the script contract: `--list` and `--host`).

`--list` prints every group with its hosts and `children`, and all host variables under
`_meta.hostvars`, so Ansible never calls `--host` once per VM. Terminated VMs never appear. The
`orphans`, `unverified` and `unowned` groups come from the same report as `graphinv orphans`
(graphinv/orphans.py), so a playbook and the report can never disagree about a VM.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from graphinv.db import Graph
from graphinv.orphans import OrphanFilter, orphan_report, unowned_report

# Ansible accepts group names made of ASCII letters, digits and underscores, not starting with a
# digit; it rewrites anything else to `_` (and warns). We do the same up front so the names
# documented here are the names Ansible shows.
_INVALID = re.compile(r"[^A-Za-z0-9_]")
FINDING_GROUPS = ("orphans", "unverified", "unowned")
VERDICT_GROUP = {"orphan": "orphans", "unverified": "unverified", "unowned": "unowned"}
TERMINATED = ("terminated", "shutting-down")

INSTANCES = """
MATCH (i:Instance)
WHERE NOT coalesce(i.status, 'unknown') IN $terminated AND NOT coalesce(i.state, 'unknown') IN $terminated
  AND ($provider IS NULL OR i.provider = $provider)
  AND ($shoot IS NULL OR i.cluster = $shoot)
  AND ($project IS NULL OR i.cluster STARTS WITH 'shoot--' + $project + '--')
OPTIONAL MATCH (s:Shoot)-[:OWNS_VM]->(i)
OPTIONAL MATCH (p:Project)-[:HAS_SHOOT]->(s)
OPTIONAL MATCH (m:Machine)-[:RUNS_ON]->(i)
WITH i, s, p, collect(m.name)[0] AS machine
// All rows in one record: the driver's cost is per record (graphinv.db.Graph.read_collected).
RETURN collect({uid: i.uid, name: i.name, provider: i.provider, account: i.account_id, region: i.region,
       zone: i.zone, instance_type: i.instance_type, state: i.state, private_ip: i.private_ip,
       public_ip: i.public_ip, tags: i.tags, cluster: i.cluster, role: i.role,
       shoot_technical_id: s.technical_id, seed: s.seed_name, workers: s.workers, project: p.name,
       machine: machine}) AS rows
"""
# Names that two or more live VMs share, with the accounts of those VMs: one pass over the VMs
# (a per-VM count of its namesakes was a scan per VM, quadratic in the landscape).
SHARED_NAMES = """
MATCH (t:Instance)
WHERE t.name IS NOT NULL
  AND NOT coalesce(t.status, 'unknown') IN $terminated AND NOT coalesce(t.state, 'unknown') IN $terminated
WITH t.name AS name, collect(t.account_id) AS accounts
WHERE size(accounts) > 1
RETURN name, accounts
"""


def safe_group(name: str) -> str:
    """A group name as Ansible expects it: [A-Za-z0-9_], never starting with a digit."""
    safe = _INVALID.sub("_", name)
    return f"_{safe}" if safe[:1].isdigit() else safe


def project_of(cluster: str | None) -> str | None:
    """The Gardener project in a technical id `shoot--<project>--<name>`."""
    parts = (cluster or "").split("--")
    return parts[1] if len(parts) >= 3 and parts[0] == "shoot" else None


def worker_pool(name: str | None, technical_id: str | None, pools: Iterable[str] | None) -> str | None:
    """Gardener names worker VMs `<technical id>-<pool>-z<n>-...`; the longest matching pool wins.

    `pools` are the shoot's workers as the graph keeps them, `<pool>:<machine type>:<min>-<max>`."""
    if not name or not technical_id:
        return None
    names = {p.split(":", 1)[0] for p in pools or ()}
    matches = [p for p in names if p and name.startswith(f"{technical_id}-{p}-")]
    return max(matches, key=len) if matches else None


@dataclass
class InventoryFilter:
    provider: str | None = None
    project: str | None = None
    shoot: str | None = None
    orphans_only: bool = False


def _host_name(row: dict[str, Any], shared: dict[str, list[str]]) -> str:
    """VM names are the host names. A name two live VMs share gets the account appended (twins in
    two accounts), or the uid (twins in one account, which AWS allows)."""
    name = row["name"]
    if name is None:
        return str(row["uid"])
    accounts = shared.get(name)
    if accounts is None:
        return str(name)
    if accounts.count(row["account"]) > 1:
        return f"{name}@{row['uid']}"
    return f"{name}@{row['account']}"


def _jsonable(value: Any) -> Any:
    if hasattr(value, "to_native"):
        value = value.to_native()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)  # tags are kept as a JSON string
        except ValueError:
            return value
    return value


def _groups_of(row: dict[str, Any], verdict: str | None) -> Iterator[tuple[str, str | None]]:
    """(group, parent group or None) for one VM."""
    provider = row["provider"] or "unknown"
    yield safe_group(f"provider_{provider}"), None
    if row["account"]:
        yield safe_group(f"account_{provider}_{row['account']}"), safe_group(f"provider_{provider}")
    if row["region"]:
        yield safe_group(f"region_{row['region']}"), None
    if row["zone"]:
        yield safe_group(f"zone_{row['zone']}"), None
    if row["instance_type"]:
        yield safe_group(f"type_{row['instance_type']}"), None
    project = row["project"] or project_of(row["cluster"])
    if row["cluster"]:
        shoot = safe_group(row["cluster"])
        yield shoot, safe_group(f"project_{project}") if project else None
        if row["seed"]:
            yield safe_group(f"seed_{row['seed']}"), None
        pool = worker_pool(row["name"], row["shoot_technical_id"], row["workers"])
        if pool:
            yield safe_group(f"pool_{pool}"), None
    if verdict in VERDICT_GROUP:
        yield VERDICT_GROUP[verdict], None


def build_inventory(graph: Graph, filt: InventoryFilter, judge: OrphanFilter,
                    host_address: str = "private") -> dict[str, Any]:
    """The whole `--list` document. `judge` carries the staleness the orphan verdicts use."""
    rows = graph.read_collected(INSTANCES, {"provider": filt.provider, "project": filt.project,
                                            "shoot": filt.shoot, "terminated": list(TERMINATED)})
    shared = {r["name"]: r["accounts"] for r in graph.run_read(SHARED_NAMES, {"terminated": list(TERMINATED)})}
    scope = OrphanFilter(provider=filt.provider, project=filt.project, kind="instance",
                         max_staleness=judge.max_staleness)
    verdicts: dict[str, tuple[str, str]] = {}
    for finding in orphan_report(graph, scope):
        verdicts[finding["uid"]] = (finding["verdict"], finding["reason"])
    for finding in unowned_report(graph, OrphanFilter(provider=filt.provider, kind="instance")):
        verdicts.setdefault(finding["uid"], (finding["verdict"], finding["reason"]))

    groups: dict[str, dict[str, Any]] = {g: {"hosts": []} for g in FINDING_GROUPS}
    parents: dict[str, set[str]] = {}
    hostvars: dict[str, dict[str, Any]] = {}
    address_key = "public_ip" if host_address == "public" else "private_ip"
    for row in rows:
        verdict, reason = verdicts.get(row["uid"], ("none", None))
        if filt.orphans_only and verdict != "orphan":
            continue
        host = _host_name(row, shared)
        project = row["project"] or project_of(row["cluster"])
        variables: dict[str, Any] = {
            "provider": row["provider"], "account": row["account"], "region": row["region"],
            "zone": row["zone"], "instance_type": row["instance_type"], "state": row["state"],
            "machine": row["machine"], "shoot": row["cluster"], "project": project, "seed": row["seed"],
            "worker_pool": worker_pool(row["name"], row["shoot_technical_id"], row["workers"]),
            "tags": _jsonable(row["tags"]) or {}, "uid": row["uid"], "private_ip": row["private_ip"],
            "public_ip": row["public_ip"], "orphan_verdict": verdict, "orphan_reason": reason,
        }
        if row[address_key]:
            variables["ansible_host"] = row[address_key]
        hostvars[host] = variables
        for group, parent in _groups_of(row, verdict):
            groups.setdefault(group, {"hosts": []})
            groups[group]["hosts"].append(host)
            if parent is not None:
                groups.setdefault(parent, {"hosts": []})
                parents.setdefault(parent, set()).add(group)
    for parent, children in parents.items():
        groups[parent]["children"] = sorted(children)
    for entry in groups.values():
        entry["hosts"] = sorted(set(entry["hosts"]))
    children_of_something = {c for cs in parents.values() for c in cs}
    document: dict[str, Any] = {name: groups[name] for name in sorted(groups)}
    document["all"] = {"children": sorted(set(groups) - children_of_something)}
    document["_meta"] = {"hostvars": {h: hostvars[h] for h in sorted(hostvars)}}
    return document


def host_vars(document: dict[str, Any], host: str) -> dict[str, Any]:
    """`--host NAME`: the host's variables, or {} for a host the inventory does not hold (the contract)."""
    found: dict[str, Any] = document["_meta"]["hostvars"].get(host, {})
    return found
