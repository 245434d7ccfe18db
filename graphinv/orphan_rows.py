"""The orphan queries' rows as plain values the driver decodes cheaply.

Neo4j returns `created` and `first_seen` as DateTime values; decoding each one into a
`neo4j.time.DateTime` (with its time zone) was most of the orphan report's client time. Here the shipped
query runs unchanged inside a `CALL {}` and Neo4j hands back each timestamp as integer epoch
microseconds, which become UTC `datetime`s with one addition each (or ISO text, cached, for the
report). The rows, their order and every other column are the query's own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from graphinv.db import Graph
from graphinv.queries import NamedQuery

# The columns every orphan query returns (queries/orphan_*.cypher, unattached_disks, unowned_resources),
# apart from the two timestamps.
PLAIN_COLUMNS = ("verdict", "reason", "kind", "provider", "uid", "name", "account", "region", "zone", "state",
                 "shoot", "instance_type", "size_gb", "disk_type", "address")
TIME_COLUMNS = ("created", "first_seen")
# The orphan lifecycle's facts the report's queries also return (orphan_instances, orphan_disks, orphan_ips,
# unattached_disks; graph_schema.cloud.CloudResource, graphinv/history/lifecycle.py).
LIFECYCLE_PLAIN_COLUMNS = ("lost_edge", "orphan_finding")
LIFECYCLE_TIME_COLUMNS = ("lost_edge_at", "orphan_since", "last_detached")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(expr: str) -> str:
    """Cypher: the DateTime `expr` as epoch microseconds; a value that is no DateTime (absent, or another
    type) as itself."""
    return (f"CASE WHEN ({expr}) IS :: ZONED DATETIME "
            f"THEN ({expr}).epochSeconds * 1000000 + ({expr}).microsecond ELSE {expr} END")


def wrapped(query: NamedQuery, lifecycle: bool = False) -> str:
    """The query's text inside `CALL () {}`, returning all its rows in one record (graphinv.db.Graph.read_collected)
    with the timestamps as integers; with `lifecycle`, the lifecycle columns too."""
    plain = PLAIN_COLUMNS + (LIFECYCLE_PLAIN_COLUMNS if lifecycle else ())
    times = TIME_COLUMNS + (LIFECYCLE_TIME_COLUMNS if lifecycle else ())
    fields = ", ".join([f"{c}: {c}" for c in plain] + [f"{c}: {micros(c)}" for c in times])
    return f"CALL () {{\n{query.text}\n}}\nRETURN collect({{{fields}}}) AS rows"


def as_datetime(value: Any) -> Any:
    """Epoch microseconds as a UTC datetime; anything else unchanged."""
    if type(value) is int:
        return EPOCH + timedelta(microseconds=value)
    return value


def micros_of(moment: datetime) -> int:
    """A timezone-aware datetime as epoch microseconds, exactly."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@lru_cache(maxsize=1 << 16)
def iso_of(value: int) -> str:
    """Epoch microseconds as an ISO 8601 UTC timestamp. Cached: the rows of a report share many of their
    timestamps (every node one write created has the same `first_seen`, every finding one report
    opened the same `orphan_since`), and `isoformat` was a tenth of the report's client time."""
    return (EPOCH + timedelta(microseconds=value)).isoformat()


def primitive_rows(graph: Graph, query: NamedQuery, *, lifecycle: bool = False, **params: Any) -> list[dict[str, Any]]:
    """The rows of `query` (an orphan query; with `lifecycle`, its lifecycle columns too) in one record, which
    the driver decodes far faster than one record per row, with every timestamp as integer epoch
    microseconds (as_datetime and iso_of turn them into datetimes and text)."""
    return graph.read_collected(wrapped(query, lifecycle), query.bind(params))
