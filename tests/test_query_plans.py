"""Every shipped query is planned without scanning all nodes (it starts from a label or an index)."""

from __future__ import annotations

import pytest

from bench.ingest import run_graphinv
from bench.queries import (
    SCANS,
    details,
    explained_operators,
    explained_seeks,
    params_for,
    plan_nodes,
    plan_operators,
)
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


def test_the_orphan_vm_query_visits_only_unclaimed_vms(populated: Graph) -> None:
    # It starts from an index seek on Instance(claimed) (graph_schema.base.ClaimFlag): the rows that
    # seek yields are the VMs no Machine runs on and no Bastion uses, not all 400.
    query = shipped_queries()["orphan_instances"]
    with populated.session() as session:
        plan = session.run("PROFILE " + query.text, params_for("orphan_instances", populated)).consume().profile
    seeks = [int(node["rows"]) for node in plan_nodes(plan) if "Instance(claimed)" in details(node)]
    unclaimed = populated.run_read("MATCH (i:Instance) WHERE i.cluster IS NOT NULL "
                                   "AND NOT EXISTS { (i)<-[:RUNS_ON|USES_VM]-() } RETURN count(i) AS c")[0]["c"]
    assert 0 < unclaimed < 400
    assert seeks == [unclaimed], f"the VM part does not start from the claimed index: {seeks}"


def test_synthetic_orphans_are_found(populated: Graph) -> None:
    rows = shipped_queries()["orphan_instances"].run(populated, **params_for("orphan_instances", populated))
    # Synthetic drops the machine of every 20th VM: exactly those are orphans, all verified.
    assert sorted(r["uid"] for r in rows) == sorted(f"i-{i:017x}" for i in range(19, 400, 20))
    assert {r["verdict"] for r in rows} == {"orphan"}


def test_write_statements_keep_a_plan_made_on_an_empty_graph_that_scans_nothing(graph: Graph) -> None:
    """The ingest statements keep their first plan (graphinv/ingest/cypher.py, KEEP_PLAN), which on a
    new graph is made while it is empty. That plan must find every node by an index or from a bound
    node, never by scanning a label, or it would stay a scan as the graph grows."""
    from graph_schema.registry import NODE_CLASSES
    from graphinv.ingest.cypher import (
        KEEP_PLAN,
        finish_query,
        relink_query,
        stale_query,
        sweep_query,
        upsert_query,
    )

    install_schema(graph)
    assert graph.run_read("MATCH (n) RETURN count(n) AS c")[0]["c"] == 0
    params: dict[str, object] = {"batch": {"rows": [], "extra_labels": []}, "now": None, "source": "s", "scope": "s",
                                 "run_id": "r", "limit": 1, "at": None, "key": "s", "finished": None,
                                 "written": 0, "swept": 0}
    checked = 0
    for cls in NODE_CLASSES:
        label = cls.__label__
        statements = {"upsert": upsert_query(label), "upsert with capture": upsert_query(label, True),
                      "sweep": sweep_query(label), "sweep with capture": sweep_query(label, True),
                      "stale check": stale_query(label), "relink": relink_query(label),
                      "finish": finish_query((label,)), "finish with capture": finish_query((label, "IP"), True)}
        for what, text in statements.items():
            if not text:
                continue
            if what != "stale check":
                assert text.startswith(KEEP_PLAN), f"{label} {what}"
            scans = [op for op in explained_operators(graph, text, params) if op in SCANS]
            assert scans == [], f"{label} {what}: {text}"
            if what.startswith("upsert"):
                # The unchanged-row check finds its node by uid: a kept seek on another index (the
                # scope's, say) would visit the whole scope for every row.
                refresh = [d for d in explained_seeks(graph, text, params) if "same:" in d]
                assert refresh and all(f"same:{label}(uid)" in d for d in refresh), f"{label} {what}: {refresh}"
            checked += 1
    assert checked >= 7 * len(NODE_CLASSES)


def test_one_plan_serves_upserts_of_every_batch_size(graph: Graph) -> None:
    """Neo4j caches a plan per statement text and per list parameter size, rounded to a power of
    ten, so batches of 1, 7, 60 and 700 rows sent as a list parameter were four plans of the same
    upsert, each as costly as the first. The engine sends a batch inside one map parameter
    (graphinv/ingest/cypher.py, upsert_query): the server's plan cache then holds as many entries
    after scopes of every size as after one scope of a single row."""
    from collectors.records import DiskRecord
    from collectors.scope import Scope
    from graphinv.ingest import Ingest

    install_schema(graph)
    ingest = Ingest(graph, batch_size=1000)

    def cached_plans(sizes: list[int]) -> int:
        graph.run_write("CALL db.clearQueryCaches()")
        for n, size in enumerate(sizes):
            with ingest.scope(Scope("aws", "111", f"region-{n}", "Disk")) as run:
                run.write(DiskRecord(uid=f"vol-{n}-{i}", provider="aws", account_id="111", region=f"region-{n}",
                                     size_gb=10, attached=False) for i in range(size))
        message = str(graph.run_write("CALL db.clearQueryCaches()")[0]["value"])
        # "Query caches successfully cleared of N queries." (or "... already empty.")
        return int(message.split(" of ")[1].split()[0]) if " of " in message else 0

    one = cached_plans([1])
    assert one >= 3, "the start, upsert and finish statements of a scope are cached"
    assert cached_plans([1, 7, 60, 700]) == one
    assert graph.run_read("MATCH (d:Disk) RETURN count(d) AS c")[0]["c"] == 768
