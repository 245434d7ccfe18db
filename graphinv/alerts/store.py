"""Alert runs and findings in Neo4j (graph_schema/alerts.py): what is new, what is resolved, who was told.

`record` applies one run's findings in a single write transaction, so a run either moved every
finding forward or none: a crash halfway cannot make a finding look new twice.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from neo4j import ManagedTransaction

from graph_schema.alerts import AlertFinding, AlertRun
from graphinv.db import Graph


@dataclass(frozen=True)
class Finding:
    key: str
    data: dict[str, Any]


@dataclass
class Recorded:
    new: list[str] = field(default_factory=list)  # keys opened by this run (first seen, or seen again after resolving)
    resolved: list[dict[str, Any]] = field(default_factory=list)  # {key, data, notified}
    open: int = 0


def finding_uid(alert: str, key: str) -> str:
    return f"{alert}:{key}"


def _plain(value: Any) -> Any:
    """Neo4j values (temporal types, nested maps) as JSON-safe Python."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "iso_format"):
        return value.iso_format()
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def plain_row(row: dict[str, Any]) -> dict[str, Any]:
    return {str(k): _plain(v) for k, v in row.items()}


_RECORD = """
UNWIND $findings AS f
OPTIONAL MATCH (old:AlertFinding {uid: f.uid})
WITH f, old IS NULL OR coalesce(old.resolved, false) AS is_new
MERGE (x:AlertFinding {uid: f.uid})
ON CREATE SET x.first_seen = $now, x.alert = $alert, x.key = f.key, x.notified = [], x.source = 'alerts'
SET x.last_seen = $now, x.run_id = $run_id, x.data = f.data, x.severity = $severity
FOREACH (_ IN CASE WHEN is_new THEN [1] ELSE [] END |
  SET x.opened = $now, x.resolved = false, x.resolved_at = null, x.notified = [])
RETURN collect(CASE WHEN is_new THEN f.key END) AS new
"""

# Findings this run did not see are resolved, except those whose fate is unknown this time
# (`undecided`: e.g. an orphan whose scope could not be read freshly).
_RESOLVE = """
MATCH (x:AlertFinding {alert: $alert})
WHERE NOT coalesce(x.resolved, false) AND x.run_id <> $run_id AND NOT x.key IN $undecided
SET x.resolved = true, x.resolved_at = $now
RETURN x.key AS key, x.data AS data, coalesce(x.notified, []) AS notified
ORDER BY key
"""

_OPEN_COUNT = """
MATCH (x:AlertFinding {alert: $alert}) WHERE NOT coalesce(x.resolved, false) RETURN count(x) AS open
"""


class AlertStore:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    def ensure_schema(self) -> None:
        """The uid constraints and indexes of the alert labels (idempotent, like install_schema)."""
        from neomodel import db as neomodel_db
        from neomodel import get_config

        get_config().database_name = self.graph.database
        neomodel_db.set_connection(driver=self.graph.driver)
        quiet = io.StringIO()
        for cls in (AlertRun, AlertFinding):
            neomodel_db.install_labels(cls, quiet=True, stdout=quiet)

    # -- runs -----------------------------------------------------------------------------------
    def start_run(self, alert: str, run_id: str, now: datetime) -> None:
        self.graph.run_write(
            "CREATE (r:AlertRun {uid: $run_id, alert: $alert, started: $now, first_seen: $now, last_seen: $now, "
            "status: 'running', source: 'alerts', run_id: $run_id})",
            {"run_id": run_id, "alert": alert, "now": now},
        )

    def finish_run(self, run_id: str, status: str, finished: datetime, rows: int = 0, findings: int = 0,
                   new: int = 0, resolved: int = 0, error: str | None = None) -> None:
        self.graph.run_write(
            "MATCH (r:AlertRun {uid: $run_id}) "
            "SET r.status = $status, r.finished = $finished, r.last_seen = $finished, r.rows = $rows, "
            "r.findings = $findings, r.new = $new, r.resolved = $resolved, r.error = $error",
            {"run_id": run_id, "status": status, "finished": finished, "rows": rows, "findings": findings,
             "new": new, "resolved": resolved, "error": error},
        )

    def prune(self, alert: str, before: datetime) -> None:
        """Old runs and long-resolved findings go, in bounded batches."""
        for query in (
            "MATCH (r:AlertRun {alert: $alert}) WHERE r.started < $before WITH r LIMIT 10000 DELETE r "
            "RETURN count(*) AS n",
            "MATCH (x:AlertFinding {alert: $alert}) WHERE x.resolved AND x.resolved_at < $before "
            "WITH x LIMIT 10000 DELETE x RETURN count(*) AS n",
        ):
            while self.graph.run_write(query, {"alert": alert, "before": before})[0]["n"] >= 10000:
                pass

    # -- findings -------------------------------------------------------------------------------
    def record(self, alert: str, severity: str, run_id: str, findings: Sequence[Finding], undecided: Sequence[str],
               now: datetime) -> Recorded:
        rows = [{"uid": finding_uid(alert, f.key), "key": f.key,
                 "data": json.dumps(f.data, sort_keys=True, default=str)} for f in findings]
        params = {"alert": alert, "severity": severity, "run_id": run_id, "now": now, "findings": rows,
                  "undecided": list(undecided)}

        def work(tx: ManagedTransaction) -> Recorded:
            result = Recorded()
            if rows:
                result.new = list(tx.run(_RECORD, params).single(strict=True)["new"])
            for record in tx.run(_RESOLVE, params):
                result.resolved.append({"key": record["key"], "data": _load(record["data"]),
                                        "notified": list(record["notified"])})
            result.open = int(tx.run(_OPEN_COUNT, params).single(strict=True)["open"])
            return result

        return self.graph.write(work)

    def pending(self, alert: str, sink: str) -> list[dict[str, Any]]:
        """Open findings this sink has not announced yet, oldest opening first."""
        rows = self.graph.run_read(
            "MATCH (x:AlertFinding {alert: $alert}) "
            "WHERE NOT coalesce(x.resolved, false) AND NOT $sink IN coalesce(x.notified, []) "
            "RETURN x.key AS key, x.data AS data ORDER BY x.opened, x.key",
            {"alert": alert, "sink": sink},
        )
        return [{"key": r["key"], "data": _load(r["data"])} for r in rows]

    def mark_notified(self, alert: str, sink: str, keys: Sequence[str]) -> None:
        self.graph.run_write(
            "UNWIND $uids AS uid MATCH (x:AlertFinding {uid: uid}) "
            "WHERE NOT $sink IN coalesce(x.notified, []) SET x.notified = coalesce(x.notified, []) + $sink",
            {"uids": [finding_uid(alert, k) for k in keys], "sink": sink},
        )

    def open_keys(self, alert: str) -> set[str]:
        rows = self.graph.run_read(
            "MATCH (x:AlertFinding {alert: $alert}) WHERE NOT coalesce(x.resolved, false) RETURN x.key AS key",
            {"alert": alert},
        )
        return {r["key"] for r in rows}

    def findings(self, alert: str, include_resolved: bool = False) -> list[dict[str, Any]]:
        rows = self.graph.run_read(
            "MATCH (x:AlertFinding {alert: $alert}) WHERE $all OR NOT coalesce(x.resolved, false) "
            "RETURN x.key AS key, x.resolved AS resolved, x.opened AS opened, x.last_seen AS last_seen, "
            "x.resolved_at AS resolved_at, x.notified AS notified, x.data AS data ORDER BY x.opened, x.key",
            {"alert": alert, "all": include_resolved},
        )
        return [{**plain_row(r), "data": _load(r["data"])} for r in rows]


def _load(data: str | None) -> dict[str, Any]:
    try:
        value = json.loads(data) if data else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {"value": value}
