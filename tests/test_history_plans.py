"""The change listing (`graphinv changes`, GraphQL `changes`, the subscription's polls) is planned as
one range seek on the `at` index, never a scan of every Change; and its (at, uid) cursor pages
through changes that share one `at` (all changes of one read do) without losing or repeating any."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bench.history import store_changes
from graphinv.db import Graph
from graphinv.history.store import EPOCH, LIST_QUERY, ChangeFilter, Position, list_changes, list_query
from graphinv.ingest import install_schema

SCANS = ("AllNodesScan", "NodeByLabelScan")


def plan(graph: Graph, text: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """(operator, details) of every operator of the query's plan."""
    with graph.session() as session:
        root = session.run("EXPLAIN " + text, params).consume().plan
    rows: list[tuple[str, str]] = []

    def walk(node: dict[str, Any]) -> None:
        rows.append((node["operatorType"].split("@")[0], str(node.get("args", {}).get("Details", ""))))
        for child in node.get("children", []):
            walk(child)

    walk(root)  # type: ignore[arg-type]
    return rows


def listing_params(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    params: dict[str, Any] = {"since": now - timedelta(hours=24), "until": None, "after_at": now - timedelta(hours=1),
                              "after_uid": "bench-1", "provider": None, "kind": None, "label": None,
                              "project": None, "limit": 10_000}
    params.update(overrides)
    return params


@pytest.fixture
def stored(graph: Graph) -> Graph:
    install_schema(graph)
    store_changes(graph, 20_000)  # enough for the planner to weigh an index against a label scan
    return graph


@pytest.mark.parametrize(("until", "after", "filters"), [
    (False, False, {}),
    (False, False, {"provider": "aws", "kind": "gone", "project": "p7", "label": "Instance"}),
    (True, False, {}),
    (False, True, {}),
    (True, True, {"provider": "aws", "kind": "gone"}),
])
def test_listing_is_an_index_range_seek_on_at(stored: Graph, until: bool, after: bool,
                                              filters: dict[str, Any]) -> None:
    text = list_query(until=until, after=after)
    params = listing_params(until=datetime.now(UTC) if until else None, **filters)
    ops = plan(stored, text, params)
    names = [op for op, _ in ops]
    assert not any(op in SCANS for op in names), names
    seeks = [details for op, details in ops if op.startswith("NodeIndexSeek")]
    assert seeks and all("c.at" in details for details in seeks), ops
    # The index hands the rows over in `at` order: no sort of everything the seek found.
    assert "Sort" not in names and "Top" not in names, names


def test_shipped_listing_query_is_the_plain_form(stored: Graph) -> None:
    assert "coalesce" not in LIST_QUERY and "IS NULL OR c.at" not in LIST_QUERY
    ops = plan(stored, LIST_QUERY, listing_params(since=EPOCH))
    assert any(op.startswith("NodeIndexSeek") and "c.at" in details for op, details in ops), ops


def test_cursor_pages_through_changes_sharing_one_at(graph: Graph) -> None:
    install_schema(graph)
    now = datetime.now(UTC).replace(microsecond=0)
    # Three reads of 7 changes each (one `at` per read), one change outside the window, one pending.
    graph.run_write(
        """
        UNWIND range(0, 20) AS i
        CREATE (:Change {uid: 'c-' + toString(100 + i), kind: 'changed', at: $now - duration({minutes: i / 7}),
                         node_uid: 'i-' + toString(i), node_label: 'Instance', provider: 'aws', project: 'p'})
        """, {"now": now})
    graph.run_write("CREATE (:Change {uid: 'c-old', kind: 'gone', at: $now - duration({days: 3}), "
                    "node_uid: 'i-old', node_label: 'Instance', provider: 'aws', project: 'p'})", {"now": now})
    graph.run_write("CREATE (:Change {uid: 'c-pending', kind: 'appeared', pending: 'scope', node_uid: 'i-p', "
                    "node_label: 'Instance', provider: 'aws', observed: $now})", {"now": now})
    window = ChangeFilter(since=now - timedelta(hours=1))
    expected = [r["uid"] for r in list_changes(graph, window, limit=100)]
    assert len(expected) == 21 and "c-old" not in expected and "c-pending" not in expected
    seen: list[str] = []
    after: Position | None = None
    for _ in range(10):
        page = list_changes(graph, window, limit=5, after=after)
        seen += [r["uid"] for r in page]
        if len(page) < 5:
            break
        after = Position(page[-1]["at"], page[-1]["uid"])
    assert seen == expected
    # A cursor later than `since` wins; `until` still bounds the range.
    middle = list_changes(graph, window, limit=100, after=Position(now - timedelta(minutes=1), "c-109"))
    assert [r["uid"] for r in middle] == ["c-110", "c-111", "c-112", "c-113", "c-100", "c-101", "c-102",
                                          "c-103", "c-104", "c-105", "c-106"]
    bounded = ChangeFilter(since=now - timedelta(hours=1), until=now)
    assert len(list_changes(graph, bounded, limit=100)) == 14
