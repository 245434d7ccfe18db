"""The lifecycle of orphan findings, on top of the orphan report (graphinv/orphans.py).

Every report row gets `orphan_since` (when a report first judged the resource an orphan on complete,
fresh data), `orphan_days`, and `evidence` from the change history: when the resource lost the
edge that made it needed (the Machine that ran on the VM, the VM a disk or IP was attached to, the
shoot that owned it), or, without history, when a disk was last detached. A report that may write
(the CLI, the alerts; not the read-only API) records each judgement as an `OrphanFinding`: opened
at the first `orphan` verdict, closed with its end time when a later report over the same resources
no longer lists the resource (re-attached, or deleted).

`graphinv orphans ack UID` stores an `OrphanAck` (who, why, until): acknowledged rows are left out of
reports and alerts until the acknowledgement expires, and listed only when asked for (`--acked`).
"""

from __future__ import annotations

import getpass
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from graphinv.db import Graph
from graphinv.orphan_rows import as_datetime, micros

# Whether acknowledged rows stay in the report (marked `acked`); `graphinv orphans --acked` sets it.
SHOW_ACKED: ContextVar[bool] = ContextVar("graphinv_show_acked", default=False)
EVIDENCE_RELS = ["RUNS_ON", "HAS_DISK", "HAS_IP", "OWNS_VM", "OWNS_DISK", "OWNS_IP"]
ANNOTATE_CHUNK = 1000  # report rows per annotation query
ANNOTATE_THREADS = 4  # annotation queries at a time


class ReportScope(Protocol):
    """What the orphan report was asked for (graphinv.orphans.OrphanFilter)."""

    provider: str | None
    kind: str | None
    account: str | None
    project: str | None
    older_than: timedelta | None


# Timestamps leave Neo4j as integer epoch microseconds (graphinv/orphan_rows.py says why), and all rows
# in one record (graphinv.db.Graph.read_collected says why). Each lookup here is an index seek per row,
# 3 to 7 us of Neo4j time each at 100k VMs: the Disk one is made for disk rows alone, and the
# acknowledgements, which people write a few at a time, are read once per report (ACKS_QUERY).
ANNOTATE_QUERY = f"""
UNWIND $keys AS key
OPTIONAL MATCH (f:OrphanFinding {{uid: key.kind + ':' + key.uid}})
CALL (key) {{
  OPTIONAL MATCH (c:Change {{other_uid: key.uid, kind: 'unlinked'}}) WHERE c.rel IN $rels AND c.at IS NOT NULL
  RETURN c ORDER BY c.at DESC LIMIT 1
}}
OPTIONAL CALL (key) {{
  WITH key WHERE key.kind = 'disk'
  MATCH (d:Disk {{uid: key.uid}})
  RETURN d.last_detached AS last_detached
}}
RETURN collect({{uid: key.uid,
  orphan_since: CASE WHEN f.closed_at IS NULL THEN {micros("f.orphan_since")} END,
  recorded: CASE WHEN f.closed_at IS NULL AND f.orphan_since IS NOT NULL
    THEN [f.provider, f.account, f.project, f.evidence] END,
  lost_rel: c.rel, lost_label: c.node_label, lost_uid: c.node_uid, lost_at: {micros("c.at")},
  last_detached: {micros("last_detached")}}}) AS rows
"""

# The acknowledgements in force at $now.
ACKS_QUERY = f"""
MATCH (a:OrphanAck) WHERE a.until IS NULL OR a.until > $now
RETURN collect({{uid: a.uid, ack_reason: a.reason, ack_by: a.by, ack_until: {micros("a.until")}}}) AS rows
"""

RECORD_QUERY = """
UNWIND $orphans AS o
MERGE (f:OrphanFinding {uid: o.kind + ':' + o.uid})
ON CREATE SET f.first_seen = $now, f.kind = o.kind, f.resource_uid = o.uid
FOREACH (_ IN CASE WHEN f.orphan_since IS NULL OR f.closed_at IS NOT NULL THEN [1] ELSE [] END |
  SET f.orphan_since = $now, f.closed_at = null, f.close_reason = null)
SET f.provider = o.provider, f.account = o.account, f.project = o.project, f.evidence = o.evidence,
    f.last_seen = $now
"""

CLOSE_QUERY = """
MATCH (f:OrphanFinding) WHERE f.closed_at IS NULL AND f.orphan_since IS NOT NULL
  AND NOT f.resource_uid IN $listed
  AND ($provider IS NULL OR f.provider = $provider) AND ($kind IS NULL OR f.kind = $kind)
  AND ($account IS NULL OR f.account = $account) AND ($project IS NULL OR f.project = $project)
SET f.closed_at = $now, f.close_reason = CASE WHEN EXISTS { (:Instance {uid: f.resource_uid}) }
  OR EXISTS { (:Disk {uid: f.resource_uid}) } OR EXISTS { (:IP {uid: f.resource_uid}) }
  THEN 'no longer an orphan' ELSE 'gone' END
RETURN count(f) AS closed
"""


def _evidence(row: dict[str, Any], found: dict[str, Any]) -> str | None:
    at = as_datetime(found.get("lost_at"))
    if at is not None:
        start, rel = found["lost_label"], found["lost_rel"]
        return f"{start} {found['lost_uid']} lost its {rel} edge to it at {at.isoformat()}"
    detached = as_datetime(found.get("last_detached"))
    if detached is not None:
        return f"last detached at {detached.isoformat()}"
    return None


def _record(graph: Graph, rows: list[dict[str, Any]], scope: ReportScope, now: datetime,
            recorded: dict[str, Any] | None = None) -> None:
    """Open (or update) the findings of the rows judged orphan, and close the scope's findings no longer
    listed. A finding already open with the same provider, account, project and evidence (`recorded`,
    from ANNOTATE_QUERY) is left as it is: a report that repeats the last one writes nothing for it."""
    recorded = recorded or {}
    orphans = [{"kind": r["kind"], "uid": r["uid"], "provider": r.get("provider"), "account": r.get("account"),
                "project": r.get("project"), "evidence": r.get("evidence")}
               for r in rows if r.get("verdict") == "orphan"
               and recorded.get(r["uid"]) != [r.get("provider"), r.get("account"), r.get("project"), r.get("evidence")]]
    try:
        if orphans:
            graph.run_write(RECORD_QUERY, {"orphans": orphans, "now": now})
        if scope.older_than is None:  # a report over all of the scope's resources can say who is no longer one
            graph.run_write(CLOSE_QUERY, {"listed": [r["uid"] for r in rows], "now": now,
                                          "provider": scope.provider, "kind": scope.kind,
                                          "account": scope.account, "project": scope.project})
    except RuntimeError as exc:
        if type(exc).__name__ != "ReadOnly":  # the API's graph: it reports, it does not record
            raise


Annotations = dict[str, dict[str, Any]]  # ANNOTATE_QUERY's row of each report row, by uid


def annotate(graph: Graph, rows: list[dict[str, Any]], now: datetime,
             pool: Executor) -> list[Future[list[dict[str, Any]]]]:
    """Start annotating `rows` on `pool`: ANNOTATE_QUERY in chunks of ANNOTATE_CHUNK rows. Neo4j runs a
    query on one thread, and this one costs it about 30 us per row, so a large report's chunks run side
    by side (and beside the report's other queries: graphinv/orphans.py). Merge the results with
    annotation_results(), together with one acknowledgements() per report."""
    keys = [{"kind": r["kind"], "uid": r["uid"]} for r in rows]
    return [pool.submit(graph.read_collected, ANNOTATE_QUERY,
                        {"keys": keys[i:i + ANNOTATE_CHUNK], "now": now, "rels": EVIDENCE_RELS})
            for i in range(0, len(keys), ANNOTATE_CHUNK)]


def acknowledgements(graph: Graph, now: datetime, pool: Executor) -> Future[list[dict[str, Any]]]:
    """Start reading the acknowledgements in force at `now` on `pool`."""
    return pool.submit(graph.read_collected, ACKS_QUERY, {"now": now})


def annotation_results(parts: list[Future[list[dict[str, Any]]]],
                       acks: Future[list[dict[str, Any]]]) -> Annotations:
    """The results of annotate() merged, with each row's acknowledgement (acknowledgements())."""
    found: Annotations = {}
    for part in parts:
        found.update((r["uid"], r) for r in part.result())
    for ack in acks.result():
        if ack["uid"] in found:
            found[ack["uid"]].update(ack)
    return found


def apply_lifecycle(graph: Graph, rows: list[dict[str, Any]], scope: ReportScope, now: datetime,
                    found: Annotations | None = None) -> list[dict[str, Any]]:
    """Annotate the report's rows, record the judgement where the graph may be written, and leave out
    acknowledged rows unless SHOW_ACKED. `found`: the rows' annotations, when the caller started
    annotate() itself (alongside its other queries)."""
    if not rows:
        _record(graph, rows, scope, now)
        return rows
    if found is None:
        with ThreadPoolExecutor(max_workers=ANNOTATE_THREADS, thread_name_prefix="annotate") as pool:
            found = annotation_results(annotate(graph, rows, now, pool), acknowledgements(graph, now, pool))
    for row in rows:
        info = found.get(row["uid"], {})
        row["evidence"] = _evidence(row, info)
        since = as_datetime(info.get("orphan_since"))
        if since is None and row.get("verdict") == "orphan":
            since = now  # judged an orphan now, for the first time
        row["orphan_since"] = since.isoformat() if since else None
        row["orphan_days"] = round((now - since).total_seconds() / 86400, 2) if since else None
        until = as_datetime(info.get("ack_until"))
        row["acked"] = info.get("ack_by") is not None
        row["ack"] = (f"{info['ack_by']}: {info['ack_reason']}" + (f" (until {until.isoformat()})" if until else "")
                      if row["acked"] else None)
    _record(graph, rows, scope, now, {uid: info["recorded"] for uid, info in found.items() if info["recorded"]})
    if SHOW_ACKED.get():
        return rows
    return [r for r in rows if not r["acked"]]


def acknowledge(graph: Graph, uid: str, reason: str, until: datetime | None, by: str | None = None,
                now: datetime | None = None) -> dict[str, Any]:
    """Store (or replace) the acknowledgement of a finding."""
    if not reason.strip():
        raise ValueError("an acknowledgement needs a reason")
    who = by or getpass.getuser()
    now = now or datetime.now(UTC)
    rows = graph.run_write(
        """
        MERGE (a:OrphanAck {uid: $uid})
        ON CREATE SET a.first_seen = $now
        SET a.reason = $reason, a.by = $by, a.at = $now, a.until = $until, a.last_seen = $now
        WITH a
        RETURN EXISTS { (:Instance {uid: $uid}) } OR EXISTS { (:Disk {uid: $uid}) }
          OR EXISTS { (:IP {uid: $uid}) } AS known
        """,
        {"uid": uid, "reason": reason.strip(), "by": who, "until": until, "now": now},
    )
    return {"uid": uid, "by": who, "reason": reason.strip(), "until": until, "known": bool(rows[0]["known"])}
