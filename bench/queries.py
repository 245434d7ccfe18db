"""Orphan queries on a large graph: their plans (index use, no AllNodesScan) and median latency,
next to the same queries with the schema's range indexes dropped (uniqueness constraints stay,
so only the lookups the model adds for queries are taken away), in the same process.

Usage: python bench/queries.py [--instances 100000] [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neo4j.exceptions import DatabaseError

from bench._server import bench_graph
from bench.ingest import run_graphinv
from bench.synthetic import Synthetic
from graphinv.db import Graph
from graphinv.ingest import install_schema
from graphinv.queries import load_query

QUERIES = ("orphan_instances", "orphan_disks", "orphan_ips", "unattached_disks", "unowned_resources",
           "machines_without_vm", "shoots_without_machines", "project_resource_counts")


def params_for(name: str, graph: Graph) -> dict[str, Any]:
    now = datetime.now(UTC)
    base: dict[str, Any] = {"provider": "aws", "account": None, "project": None, "cutoff": None,
                            "fresh_after": now - timedelta(hours=6), "kind": None, "seed": None}
    if name in ("orphan_disks", "orphan_ips"):
        rows = load_query("orphan_instances").run(graph, **{k: base[k] for k in load_query("orphan_instances").params})
        base["orphan_instances"] = [r["uid"] for r in rows if r["verdict"] == "orphan"]
    return {k: base.get(k) for k in load_query(name).params}


def plan_operators(graph: Graph, text: str, params: dict[str, Any]) -> list[str]:
    """The operators of the query's plan: PROFILE, or EXPLAIN where Neo4j 5.26 cannot profile the
    plan ("result has not been materialised yet", seen on large graphs); both show the same operators."""
    try:
        with graph.session() as session:
            plan = session.run("PROFILE " + text, params).consume().profile
    except DatabaseError:
        with graph.session() as session:
            plan = session.run("EXPLAIN " + text, params).consume().plan
    ops: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        ops.append(node["operatorType"].split("@")[0])
        for child in node.get("children", []):
            walk(child)

    walk(plan)  # type: ignore[arg-type]
    return ops


def median_ms(graph: Graph, text: str, params: dict[str, Any], runs: int) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        count = len(graph.run_read(text, params))
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), count


def drop_range_indexes(graph: Graph) -> int:
    names = [r["name"] for r in graph.run_read(
        "SHOW INDEXES YIELD name, type, owningConstraint WHERE type = 'RANGE' AND owningConstraint IS NULL "
        "RETURN name")]
    for name in names:
        graph.run_write(f"DROP INDEX `{name}`")
    return len(names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    syn = Synthetic(args.instances)
    with bench_graph() as graph:
        install_schema(graph)
        print(f"loading {syn.node_count()} nodes ...", flush=True)
        run_graphinv(graph, syn, 5000)
        with_index: dict[str, tuple[float, int]] = {}
        print(f"{'query':26} {'rows':>6} {'median ms':>10}  plan")
        for name in QUERIES:
            query = load_query(name)
            params = params_for(name, graph)
            ops = plan_operators(graph, query.text, params)
            assert "AllNodesScan" not in ops, f"{name} scans all nodes: {ops}"
            seeks = sorted({op for op in ops if "Index" in op or "LabelScan" in op})
            median_ms(graph, query.text, params, 1)  # warm the query cache
            with_index[name] = median_ms(graph, query.text, params, args.runs)
            print(f"{name:26} {with_index[name][1]:>6} {with_index[name][0]:>10.1f}  {', '.join(seeks)}")
        dropped = drop_range_indexes(graph)
        print(f"\nwithout the model's {dropped} range indexes (uniqueness constraints kept):")
        for name in QUERIES:
            query = load_query(name)
            params = params_for(name, graph)
            median_ms(graph, query.text, params, 1)
            without, rows = median_ms(graph, query.text, params, args.runs)
            assert rows == with_index[name][1], f"{name}: {rows} rows without indexes, {with_index[name][1]} with"
            print(f"{name:26} {rows:>6} {without:>10.1f}  = {without / max(with_index[name][0], 0.01):5.1f}x slower")
        install_schema(graph)


if __name__ == "__main__":
    main()
