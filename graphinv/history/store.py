"""Reading recorded changes: listings with filters and cursors, one node's history, the outbox of a
subscriber, and retention. Only published changes (`at` set) are ever read; pending ones belong to
a read that has not completed (graph_schema/history.py)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from graphinv.db import Graph

FIELDS = ("uid", "kind", "at", "observed", "node_uid", "node_label", "name", "provider", "project",
          "property", "before", "after", "rel", "other_uid", "other_label", "scope", "source")
# `at` and `observed` leave Neo4j as integer epoch microseconds: decoding 10,000 DateTime values
# (with their time zone) in the driver took seconds, one addition per value in _row takes nothing.
TIME_FIELDS = ("at", "observed")
RETURN_FIELDS = ", ".join(f"c.{f}.epochSeconds * 1000000 + c.{f}.microsecond AS {f}" if f in TIME_FIELDS
                          else f"c.{f} AS {f}" for f in FIELDS)
PRUNE_CHUNK = 10_000
# Within one read (same `at`), a node's story reads in this order: it appears, changes, gains and
# loses edges, goes.
STORY_ORDER = ("CASE c.kind WHEN 'appeared' THEN 0 WHEN 'changed' THEN 1 WHEN 'linked' THEN 2 "
               "WHEN 'unlinked' THEN 3 ELSE 4 END")


class CursorError(ValueError):
    """A paging cursor that this code did not hand out."""


@dataclass(frozen=True)
class Position:
    """A place in the total order of published changes: (at, uid)."""

    at: datetime
    uid: str

    def encode(self) -> str:
        raw = json.dumps([self.at.isoformat(), self.uid]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Position:
        try:
            at, uid = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            return cls(datetime.fromisoformat(at), str(uid))
        except (ValueError, TypeError) as exc:
            raise CursorError(f"{text!r} is not a cursor this API handed out") from exc


@dataclass
class ChangeFilter:
    since: datetime | None = None
    until: datetime | None = None
    provider: str | None = None
    kind: str | None = None  # appeared | changed | gone | linked | unlinked
    label: str | None = None  # the label of the node concerned (Instance, Disk, Machine ...)
    project: str | None = None

    def validate(self) -> ChangeFilter:
        # imported here: the model brings neomodel, which `graphinv orphans` (whose command module imports
        # this one) never needs
        from graph_schema.history import CHANGE_KINDS

        if self.kind is not None and self.kind not in CHANGE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(CHANGE_KINDS)}, not {self.kind!r}")
        return self

    def params(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "provider": self.provider, "kind": self.kind,
                "label": self.label, "project": self.project}


# Published changes are read by one range seek on the `at` index, in the index's order, stopping
# after $limit rows: the time bounds are plain comparisons with parameters that are never null (a
# coalesce() or an `OR` around them hides the range from the planner, which then scans every Change
# and sorts them all). The optional property filters below apply to the rows the seek yields; their
# `IS NULL OR` form keeps the planner from preferring a less selective provider/kind index.
_FILTER = """
  AND ($provider IS NULL OR c.provider = $provider)
  AND ($kind IS NULL OR c.kind = $kind)
  AND ($label IS NULL OR c.node_label = $label OR c.other_label = $label)
  AND ($project IS NULL OR c.project = $project)
"""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def list_query(*, until: bool, after: bool) -> str:
    """The listing query: `at` from $since (inclusive) to $until (exclusive, if `until`); with `after`,
    only changes after the cursor ($after_at, $after_uid) in the (at, uid) order. The cursor's own
    instant stays in the range seek ($since is moved up to it), and the strict (at, uid) bound then
    drops what the cursor already covered there: all changes of one read share their `at`."""
    bounds = ["c.at >= $since"]
    if until:
        bounds.append("c.at < $until")
    if after:
        # A CASE, not an OR: the planner would split an OR into two seeks and sort their union.
        bounds.append("CASE WHEN c.at = $after_at THEN c.uid > $after_uid ELSE true END")
    return f"""
MATCH (c:Change)
WHERE {" AND ".join(bounds)}
{_FILTER}
RETURN {RETURN_FIELDS}
ORDER BY c.at, c.uid
LIMIT $limit
"""


LIST_QUERY = list_query(until=False, after=False)  # `changes --since`: what the plan test checks

HISTORY_QUERY = f"""
CALL () {{
  MATCH (c:Change {{node_uid: $uid}}) WHERE c.at IS NOT NULL RETURN c
  UNION
  MATCH (c:Change {{other_uid: $uid}}) WHERE c.at IS NOT NULL RETURN c
}}
RETURN {RETURN_FIELDS}
ORDER BY c.at, {STORY_ORDER}, c.uid
LIMIT $limit
"""

PRUNE_QUERY = """
MATCH (c:Change) WHERE c.at < $cutoff
WITH c LIMIT $limit
DETACH DELETE c
RETURN count(*) AS pruned
"""
# Pending changes of a scope that never completes again would otherwise stay for ever.
PRUNE_PENDING_QUERY = """
MATCH (c:Change) WHERE c.pending IS NOT NULL AND c.observed < $cutoff
WITH c LIMIT $limit
DETACH DELETE c
RETURN count(*) AS pruned
"""


def _native(value: Any) -> Any:
    return value.to_native() if hasattr(value, "to_native") else value


def _row(record: dict[str, Any]) -> dict[str, Any]:
    row = {k: _native(v) for k, v in record.items()}
    for name in TIME_FIELDS:
        if type(row.get(name)) is int:
            row[name] = EPOCH + timedelta(microseconds=row[name])
    return row


def list_changes(graph: Graph, f: ChangeFilter, *, limit: int = 1000, after: Position | None = None,
                 settle: timedelta | None = None) -> list[dict[str, Any]]:
    """Published changes matching `f`, oldest first, after `after` (exclusive). `settle`: only
    changes at least that old (subscribers use it so a late commit is never skipped)."""
    f.validate()
    params = f.params()
    if settle is not None:
        horizon = datetime.now(UTC) - settle
        params["until"] = min(horizon, f.until) if f.until else horizon
    since = f.since or EPOCH
    if after is not None:
        since = max(since, after.at)
        params.update({"after_at": after.at, "after_uid": after.uid})
    params.update({"since": since, "limit": limit})
    query = list_query(until=params["until"] is not None, after=after is not None)
    return [_row(r) for r in graph.run_read(query, params)]


def node_history(graph: Graph, uid: str, limit: int = 1000) -> list[dict[str, Any]]:
    """Everything recorded about one node, as start or end of an edge too, oldest first; also after
    the node itself is gone."""
    return [_row(r) for r in graph.run_read(HISTORY_QUERY, {"uid": uid, "limit": limit})]


HISTORIES_QUERY = f"""
UNWIND $uids AS uid
CALL (uid) {{
  CALL (uid) {{
    MATCH (c:Change {{node_uid: uid}}) WHERE c.at IS NOT NULL RETURN c
    UNION
    MATCH (c:Change {{other_uid: uid}}) WHERE c.at IS NOT NULL RETURN c
  }}
  WITH c ORDER BY c.at DESC, c.uid DESC LIMIT $limit
  RETURN c
}}
WITH uid, c ORDER BY c.at, {STORY_ORDER}, c.uid
RETURN uid AS of, {RETURN_FIELDS}
"""


def group_histories(records: Sequence[dict[str, Any]], uids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """HISTORIES_QUERY's rows per node uid, oldest first (each node's latest `$limit` changes)."""
    out: dict[str, list[dict[str, Any]]] = {uid: [] for uid in uids}
    for record in records:
        row = _row(record)
        out[row.pop("of")].append(row)
    return out


def prune(graph: Graph, retention: timedelta, now: datetime | None = None) -> int:
    """Delete changes older than the retention, in bounded chunks; returns how many."""
    cutoff = (now or datetime.now(UTC)) - retention
    total = 0
    for query in (PRUNE_QUERY, PRUNE_PENDING_QUERY):
        while True:
            pruned = int(graph.run_write(query, {"cutoff": cutoff, "limit": PRUNE_CHUNK})[0]["pruned"])
            total += pruned
            if pruned < PRUNE_CHUNK:
                break
    return total


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def describe(row: dict[str, Any]) -> str:
    """One line for people (tables, Slack)."""
    what = f"{row['node_label']} {row.get('name') or row['node_uid']}"
    kind = row["kind"]
    if kind == "changed":
        return f"{what}: {row['property']} {row.get('before')!s} -> {row.get('after')!s}"
    if kind in ("linked", "unlinked"):
        verb = "now" if kind == "linked" else "no longer"
        return f"{what} {verb} {row['rel']} {row['other_label']} {row['other_uid']}"
    return f"{what} {kind}"
