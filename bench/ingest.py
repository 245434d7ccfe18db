"""How fast graphinv writes a landscape, next to two baselines run in this process on the same server.

- ceiling: hand-written Cypher, one `UNWIND ... MERGE` per label and one per edge type, 10k rows a
  batch; it does none of graphinv's bookkeeping (no stale-edge removal, no late-arrival links, no
  scope marks, no sweep), so it is the most a correct engine could hope for.
- naive: one MERGE statement per row (its own transaction), the floor; run on a sample and reported
  as a rate, because running it on the whole landscape would take hours.

Usage: python bench/ingest.py [--instances 100000] [--batch-sizes 1000,2500,5000,10000] [--without-history]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neo4j import ManagedTransaction

from bench._server import bench_graph, wipe
from bench.synthetic import Synthetic
from collectors import records as record_types
from collectors.records import Record
from graph_schema.registry import links_of
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema
from graphinv.ingest.engine import DEFAULT_BATCH_SIZE, record_row


def run_graphinv(graph: Graph, syn: Synthetic, batch_size: int = DEFAULT_BATCH_SIZE,
                 capture_changes: bool = True) -> float:
    """Seconds graphinv's engine takes to write `syn` (bench/history.py times it with capture on and off)."""
    ingest = Ingest(graph, batch_size=batch_size, capture_changes=capture_changes)
    started = time.perf_counter()
    for scope, records in syn.scopes():
        ingest.write_context(scope, syn.context())
        with ingest.scope(scope) as run:
            run.write(records)
    return time.perf_counter() - started


def _batches(rows: Iterable[Any], size: int) -> Iterable[list[Any]]:
    it = iter(rows)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _links_by_label() -> dict[str, list[Any]]:
    """The model's links of every record label, looked up once (schema introspection is no write cost)."""
    labels = {cls.label for cls in vars(record_types).values()
              if isinstance(cls, type) and issubclass(cls, Record) and isinstance(getattr(cls, "label", None), str)}
    found: dict[str, list[Any]] = {}
    for label in labels:
        try:
            found[label] = list(links_of(label))
        except (KeyError, LookupError, ValueError):
            continue  # a base class's label the model does not know
    return found


def run_ceiling(graph: Graph, syn: Synthetic, batch_size: int = 10_000, edges_too: bool = True) -> float:
    """Hand-written UNWIND MERGE per label, then (edges_too) per edge type; same nodes, properties, edges.
    The model's link specs are looked up before the clock starts."""
    links = _links_by_label()
    started = time.perf_counter()
    by_label: dict[str, list[dict[str, Any]]] = defaultdict(list)
    edges: dict[tuple[str, str, str, str, str], list[dict[str, str]]] = defaultdict(list)
    records: list[Record] = list(syn.context())
    for _scope, recs in syn.scopes():
        records.extend(recs)
    for record in records:
        row = record_row(record)
        by_label[record.label].append(row)
        for spec in links[record.label] if record.label in links else links_of(record.label):
            key = row["props"].get(spec.via)
            if key is None:
                continue
            src_label, dst_label = (spec.owner, spec.target) if spec.direction == "out" else (spec.target, spec.owner)
            src_key, dst_key = ("uid", spec.target_key) if spec.direction == "out" else (spec.target_key, "uid")
            a, b = (row["uid"], key) if spec.direction == "out" else (key, row["uid"])
            edges[(src_label, src_key, spec.rel, dst_label, dst_key)].append({"a": a, "b": b})
    for label, rows in by_label.items():
        query = (f"UNWIND $rows AS row MERGE (n:{label} {{uid: row.uid}}) "
                 "SET n += row.props, n.last_seen = datetime()")
        for chunk in _batches(rows, batch_size):
            graph.run_write(query, {"rows": chunk})
    for (src_label, src_key, rel, dst_label, dst_key), pairs in (edges.items() if edges_too else ()):
        query = (f"UNWIND $rows AS row MATCH (a:{src_label} {{{src_key}: row.a}}) "
                 f"MATCH (b:{dst_label} {{{dst_key}: row.b}}) MERGE (a)-[:{rel}]->(b)")
        for chunk in _batches(pairs, batch_size):
            graph.run_write(query, {"rows": chunk})
    return time.perf_counter() - started


def run_naive(graph: Graph, syn: Synthetic, sample: int) -> tuple[int, float]:
    """One MERGE per row in its own transaction, for the first `sample` rows of the cloud scope."""
    records = list(itertools.islice(syn.cloud(), sample))
    started = time.perf_counter()
    with graph.session() as session:
        for record in records:
            row = record_row(record)
            query = f"MERGE (n:{record.label} {{uid: $uid}}) SET n += $props"

            def work(tx: ManagedTransaction, query: str = query, row: dict[str, Any] = row) -> None:
                tx.run(query, row).consume()

            session.execute_write(work)
    return len(records), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--batch-sizes", default="5000", help="comma-separated batch sizes to measure graphinv at")
    parser.add_argument("--naive-sample", type=int, default=3000)
    parser.add_argument("--ceiling-batch", type=int, default=10_000,
                        help="rows per statement of the hand-written baselines (Cartography uses 10,000)")
    parser.add_argument("--without-history", action="store_true",
                        help="graphinv without change capture (history.enabled: false), as the engine was "
                             "before the change history existed")
    args = parser.parse_args()
    capture = not args.without_history
    syn = Synthetic(args.instances)
    nodes = syn.node_count()
    print(f"synthetic landscape: {args.instances} instances, {nodes} nodes; baselines at {args.ceiling_batch} rows; "
          f"change capture {'on' if capture else 'off'}")
    with bench_graph() as graph:
        install_schema(graph)
        # Warm the server (JIT, page cache) with a small run that is not measured.
        run_graphinv(graph, Synthetic(2000), 5000)
        wipe(graph)
        nodes_only = run_ceiling(graph, syn, args.ceiling_batch, edges_too=False)
        print(f"ceiling, nodes only (UNWIND MERGE/label): {nodes_only:8.1f} s  {nodes / nodes_only:9.0f} nodes/s")
        wipe(graph)
        ceiling = run_ceiling(graph, syn, args.ceiling_batch)
        print(f"hand-written, nodes + same edges:        {ceiling:8.1f} s  {nodes / ceiling:9.0f} nodes/s")
        wipe(graph)
        results = {}
        for size in (int(s) for s in args.batch_sizes.split(",")):
            elapsed = run_graphinv(graph, syn, size, capture_changes=capture)
            results[size] = elapsed
            print(f"graphinv, batch {size:>6}:                {elapsed:8.1f} s  {nodes / elapsed:9.0f} nodes/s  "
                  f"= {nodes_only / elapsed:4.0%} of nodes-only, {ceiling / elapsed:4.0%} of hand-written")
            again = run_graphinv(graph, syn, size, capture_changes=capture)  # idempotent: everything exists
            print(f"graphinv, batch {size:>6}, re-run:        {again:8.1f} s  {nodes / again:9.0f} nodes/s")
            wipe(graph)
        count, naive = run_naive(graph, syn, args.naive_sample)
        print(f"naive, one MERGE per row ({count} rows):  {naive:8.1f} s  {count / naive:9.0f} rows/s")
        best = min(results.values())
        print(f"graphinv (best batch) / nodes-only ceiling: {nodes_only / best:.2f}; / hand-written with edges: "
              f"{ceiling / best:.2f}; vs naive: {(nodes / best) / (count / naive):.0f}x faster")


if __name__ == "__main__":
    main()
