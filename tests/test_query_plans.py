"""Every shipped query is planned without scanning all nodes (it starts from a label or an index)."""

from __future__ import annotations

import pytest

from bench.ingest import run_graphinv
from bench.queries import params_for, plan_operators
from bench.synthetic import Synthetic
from graphinv.db import Graph
from graphinv.ingest import install_schema
from graphinv.queries import shipped_queries


@pytest.fixture
def populated(graph: Graph) -> Graph:
    install_schema(graph)
    run_graphinv(graph, Synthetic(400), 500)
    return graph


def test_no_query_scans_all_nodes(populated: Graph) -> None:
    queries = shipped_queries()
    assert len(queries) >= 8
    for name, query in queries.items():
        ops = plan_operators(populated, query.text, params_for(name, populated))
        assert "AllNodesScan" not in ops, f"{name}: {ops}"
    # The orphan queries start from an index, not from every node of a label.
    for name in ("orphan_instances", "orphan_disks", "orphan_ips"):
        ops = plan_operators(populated, queries[name].text, params_for(name, populated))
        assert any(op.startswith("NodeIndex") or op.startswith("NodeUniqueIndex") for op in ops), f"{name}: {ops}"


def test_synthetic_orphans_are_found(populated: Graph) -> None:
    rows = shipped_queries()["orphan_instances"].run(populated, **params_for("orphan_instances", populated))
    # Synthetic drops the machine of every 20th VM: exactly those are orphans, all verified.
    assert sorted(r["uid"] for r in rows) == sorted(f"i-{i:017x}" for i in range(19, 400, 20))
    assert {r["verdict"] for r in rows} == {"orphan"}
