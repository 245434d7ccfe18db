"""The lifecycle of orphan findings, on top of the orphan report (graphinv/orphans.py).

Every report row gets `orphan_since` (when a report first judged the resource an orphan on complete,
fresh data), `orphan_days`, and `evidence` from the change history: when the resource lost the
edge that made it needed (the Machine that ran on the VM, the VM a disk or IP was attached to, the
shoot that owned it), or, without history, when a disk was last detached. A report that may write
(the CLI, the alerts; not the read-only API) records each judgement as an `OrphanFinding`: opened
at the first `orphan` verdict, closed with its end time when a later report over the same resources
no longer lists the resource (re-attached, or deleted).

Both facts are kept on the resource itself (graph_schema.cloud.CloudResource): the last lost edge
when its unlink is published (graphinv.ingest.changes.publish_clause), the open finding when a
report records or closes it (here). The orphan queries return them with each row, so a report costs
no history lookup per row; `graphinv.ingest.schema.backfill_lifecycle` fills them in on a graph
written before they were kept.

`graphinv orphans ack UID` stores an `OrphanAck` (who, why, until): acknowledged rows are left out of
reports and alerts until the acknowledgement expires, and listed only when asked for (`--acked`).
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from concurrent.futures import Executor, Future
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from graphinv.db import Graph
from graphinv.orphan_rows import as_datetime, iso_of, micros, micros_of

T = TypeVar("T")
# Whether acknowledged rows stay in the report (marked `acked`); `graphinv orphans --acked` sets it.
SHOW_ACKED: ContextVar[bool] = ContextVar("graphinv_show_acked", default=False)


class ReportScope(Protocol):
    """What the orphan report was asked for (graphinv.orphans.OrphanFilter)."""

    provider: str | None
    kind: str | None
    account: str | None
    project: str | None
    older_than: timedelta | None


# The resource labels of the report's kinds.
KIND_LABELS = {"instance": "Instance", "disk": "Disk", "ip": "IP"}


def _on_resource(kind: str, uid: str, imports: str, body: str) -> str:
    """Cypher: unit subqueries running `body` (variable r) on the resource of kind `kind` and uid `uid`
    (expressions over `imports`), one index seek whichever kind it is."""
    return "\n".join(f"CALL ({imports}) {{\n  WITH {imports} WHERE {kind} = '{kind_name}'\n"
                     f"  MATCH (r:{label} {{uid: {uid}}})\n  {body}\n}}" for kind_name, label in KIND_LABELS.items())


# What a finding recorded, as kept on the resource (graph_schema.cloud.CloudResource.orphan_finding):
# provider, account, project, evidence, '' for none (a list property holds no nulls).
def _finding_of(provider: str, account: str, project: str, evidence: str) -> str:
    return f"[coalesce({provider}, ''), coalesce({account}, ''), coalesce({project}, ''), coalesce({evidence}, '')]"


def _recorded(row: dict[str, Any]) -> list[str]:
    """A report row's finding as _finding_of keeps it."""
    return [row.get("provider") or "", row.get("account") or "", row.get("project") or "", row.get("evidence") or ""]


# The acknowledgements in force at $now: people write a few at a time, so they are read once per report.
ACKS_QUERY = f"""
MATCH (a:OrphanAck) WHERE a.until IS NULL OR a.until > $now
RETURN collect({{uid: a.uid, ack_reason: a.reason, ack_by: a.by, ack_until: {micros("a.until")}}}) AS rows
"""

# Opens (or updates) findings and keeps each one's `orphan_since` and what it recorded on its resource;
# returns every written finding's `orphan_since`, which the report shows (the resource's copy may be
# missing: a node deleted and read again while its finding stayed open).
RECORD_QUERY = f"""
UNWIND $orphans AS o
MERGE (f:OrphanFinding {{uid: o.kind + ':' + o.uid}})
ON CREATE SET f.first_seen = $now, f.kind = o.kind, f.resource_uid = o.uid
FOREACH (_ IN CASE WHEN f.orphan_since IS NULL OR f.closed_at IS NOT NULL THEN [1] ELSE [] END |
  SET f.orphan_since = $now, f.closed_at = null, f.close_reason = null)
SET f.provider = o.provider, f.account = o.account, f.project = o.project, f.evidence = o.evidence,
    f.last_seen = $now
WITH f, o
{_on_resource("o.kind", "o.uid", "f, o", "SET r.orphan_since = f.orphan_since, r.orphan_finding = "
              + _finding_of("f.provider", "f.account", "f.project", "f.evidence"))}
RETURN collect({{uid: o.uid, orphan_since: {micros("f.orphan_since")}}}) AS rows
"""

CLOSE_QUERY = f"""
MATCH (f:OrphanFinding) WHERE f.closed_at IS NULL AND f.orphan_since IS NOT NULL
  AND NOT f.resource_uid IN $listed
  AND ($provider IS NULL OR f.provider = $provider) AND ($kind IS NULL OR f.kind = $kind)
  AND ($account IS NULL OR f.account = $account) AND ($project IS NULL OR f.project = $project)
SET f.closed_at = $now, f.close_reason = CASE WHEN EXISTS {{ (:Instance {{uid: f.resource_uid}}) }}
  OR EXISTS {{ (:Disk {{uid: f.resource_uid}}) }} OR EXISTS {{ (:IP {{uid: f.resource_uid}}) }}
  THEN 'no longer an orphan' ELSE 'gone' END
WITH f
{_on_resource("f.kind", "f.resource_uid", "f", "REMOVE r.orphan_since, r.orphan_finding")}
RETURN count(f) AS closed
"""

# Every open finding's facts on its resource, for a graph written before they were kept there
# (graphinv.ingest.schema.backfill_lifecycle). Sets only what differs, so a current graph writes nothing.
_FILL_FINDING = ("WITH f, recorded, r WHERE r.orphan_since IS NULL OR r.orphan_since <> f.orphan_since"
                 " OR r.orphan_finding IS NULL OR r.orphan_finding <> recorded\n"
                 "  SET r.orphan_since = f.orphan_since, r.orphan_finding = recorded")
OPEN_FINDINGS_BACKFILL = f"""
MATCH (f:OrphanFinding) WHERE f.closed_at IS NULL AND f.orphan_since IS NOT NULL
WITH f, {_finding_of("f.provider", "f.account", "f.project", "f.evidence")} AS recorded
{_on_resource("f.kind", "f.resource_uid", "f, recorded", _FILL_FINDING)}
RETURN count(f) AS filled
"""

def _evidence(row: dict[str, Any]) -> str | None:
    at = as_datetime(row.get("lost_edge_at"))
    lost = row.get("lost_edge")
    if at is not None and lost:
        start, start_uid, rel = lost
        return f"{start} {start_uid} lost its {rel} edge to it at {at.isoformat()}"
    detached = as_datetime(row.get("last_detached"))
    if detached is not None:
        return f"last detached at {detached.isoformat()}"
    return None


def _writable(work: Callable[[], T]) -> T | None:
    """`work()`, or None on the API's read-only graph: it reports, it does not record."""
    try:
        return work()
    except RuntimeError as exc:
        if type(exc).__name__ != "ReadOnly":
            raise
        return None


def _open_findings(graph: Graph, rows: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """Open (or update) the findings of the rows judged orphan; returns the written findings'
    `orphan_since` by uid. A finding its resource says is open with the same provider, account, project
    and evidence is left as it is: a report that repeats the last one writes nothing for it."""
    orphans = [{"kind": r["kind"], "uid": r["uid"], "provider": r.get("provider"), "account": r.get("account"),
                "project": r.get("project"), "evidence": r.get("evidence")}
               for r in rows if r.get("verdict") == "orphan"
               and (r.get("orphan_since") is None or r.get("orphan_finding") != _recorded(r))]
    if not orphans:
        return {}
    written = _writable(lambda: graph.run_write(RECORD_QUERY, {"orphans": orphans, "now": now})[0]["rows"])
    return {row["uid"]: row["orphan_since"] for row in written or ()}


def _close_findings(graph: Graph, listed: list[str], scope: ReportScope, now: datetime) -> None:
    """Close the scope's findings of resources the report no longer lists. Only a report over all of the
    scope's resources can say who is no longer an orphan (not one with --older-than)."""
    if scope.older_than is None:
        _writable(lambda: graph.run_write(CLOSE_QUERY, {"listed": listed, "now": now, "provider": scope.provider,
                                                        "kind": scope.kind, "account": scope.account,
                                                        "project": scope.project}))


def acknowledgements(graph: Graph, now: datetime, pool: Executor) -> Future[list[dict[str, Any]]]:
    """Start reading the acknowledgements in force at `now` on `pool`."""
    return pool.submit(graph.read_collected, ACKS_QUERY, {"now": now})


def apply_lifecycle(graph: Graph, rows: list[dict[str, Any]], scope: ReportScope, now: datetime,
                    acks: list[dict[str, Any]], pool: Executor) -> list[dict[str, Any]]:
    """Annotate the report's rows from their lifecycle columns, record the judgement where the graph may
    be written, and leave out acknowledged rows unless SHOW_ACKED. `acks`: the acknowledgements in force
    (acknowledgements()). Closing the findings of resources no longer listed runs on `pool` meanwhile:
    it concerns other resources than the rows' own findings."""
    closing = pool.submit(_close_findings, graph, [r["uid"] for r in rows], scope, now)
    try:
        return _annotated(graph, rows, now, acks)
    finally:
        closing.result()


def _annotated(graph: Graph, rows: list[dict[str, Any]], now: datetime,
               acks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    acked = {ack["uid"]: ack for ack in acks}
    for row in rows:
        row["evidence"] = _evidence(row)
    written = _open_findings(graph, rows, now)
    now_us = micros_of(now)
    for row in rows:
        since = written.get(row["uid"], row["orphan_since"])  # epoch microseconds
        if since is None and row["verdict"] == "orphan":
            since = now_us  # judged an orphan now, for the first time (a read-only graph records nothing)
        if since is None:
            row["orphan_since"] = row["orphan_days"] = None
        else:
            row["orphan_since"] = iso_of(since)
            row["orphan_days"] = round((now_us - since) / 86_400_000_000, 2)
        ack = acked.get(row["uid"])
        if ack is None:
            row["acked"], row["ack"] = False, None
        else:
            until = as_datetime(ack["ack_until"])
            row["acked"] = True
            row["ack"] = f"{ack['ack_by']}: {ack['ack_reason']}" + (f" (until {until.isoformat()})" if until else "")
        del row["lost_edge"], row["lost_edge_at"], row["orphan_finding"], row["last_detached"]
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
