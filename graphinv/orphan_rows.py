"""The orphan queries' rows as plain values the driver decodes cheaply.

Neo4j returns `created` and `first_seen` as DateTime values; decoding each one into a
`neo4j.time.DateTime` (with its time zone) was most of the orphan report's client time. Here the shipped
query runs unchanged inside a `CALL {}` and Neo4j hands back each timestamp as integer epoch
microseconds, which become UTC `datetime`s with one addition each. The rows, their order and every
other column are the query's own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from graphinv.db import Graph
from graphinv.queries import NamedQuery

# The columns every orphan query returns (queries/orphan_*.cypher, unattached_disks, unowned_resources),
# apart from the two timestamps.
PLAIN_COLUMNS = ("verdict", "reason", "kind", "provider", "uid", "name", "account", "region", "zone", "state",
                 "shoot", "instance_type", "size_gb", "disk_type", "address")
TIME_COLUMNS = ("created", "first_seen")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(expr: str) -> str:
    """Cypher: the DateTime `expr` as epoch microseconds; a value that is no DateTime (absent, or another
    type) as itself."""
    return (f"CASE WHEN ({expr}) IS :: ZONED DATETIME "
            f"THEN ({expr}).epochSeconds * 1000000 + ({expr}).microsecond ELSE {expr} END")


def wrapped(query: NamedQuery) -> str:
    """The query's text inside `CALL () {}`, returning all its rows in one record (graphinv.db.Graph.read_collected)
    with the timestamps as integers."""
    fields = ", ".join([f"{c}: {c}" for c in PLAIN_COLUMNS] + [f"{c}: {micros(c)}" for c in TIME_COLUMNS])
    return f"CALL () {{\n{query.text}\n}}\nRETURN collect({{{fields}}}) AS rows"


def as_datetime(value: Any) -> Any:
    """Epoch microseconds as a UTC datetime; anything else unchanged."""
    if type(value) is int:
        return EPOCH + timedelta(microseconds=value)
    return value


def primitive_rows(graph: Graph, query: NamedQuery, **params: Any) -> list[dict[str, Any]]:
    """The rows of `query` (an orphan query) with `created`/`first_seen` as datetimes decoded from integers.
    All rows come in one record, which the driver decodes far faster than one record per row."""
    rows = graph.read_collected(wrapped(query), query.bind(params))
    for row in rows:
        row["created"] = as_datetime(row["created"])
        row["first_seen"] = as_datetime(row["first_seen"])
    return rows
