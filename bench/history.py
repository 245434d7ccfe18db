"""What change capture costs, and how fast the changes are read back, next to baselines measured in
this process on the same server.

1. Ingest of the synthetic landscape with capture off, then on (on: every node is recorded as
   appeared and every tracked edge as linked).
2. A re-collection with 1 % of the VMs changed (state, instance type and a tag), capture off vs on.
3. An unchanged re-collection, capture off vs on (the goal: capture costs <= 5 % here).
4. `changes --since 24h` (graphinv.history.store.list_changes, the query the CLI runs) over
   `--stored` changes spread over 90 days: median of `--repeat` runs, with the CLI's default limit
   (10,000 rows) and with a GraphQL page (the API's default `first` 100, read as 101 rows).
   `--reads-only` measures only this part.

Usage: python -m bench.history [--instances 100000] [--stored 1000000] [--repeat 15] [--reads-only]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._server import bench_graph, wipe
from bench.ingest import run_graphinv
from bench.synthetic import Synthetic
from collectors.records import InstanceRecord, Record
from graphinv.db import Graph
from graphinv.history.store import ChangeFilter, list_changes
from graphinv.ingest import install_schema


class Edited(Synthetic):
    """The same landscape with every 100th VM changed."""

    def cloud(self) -> Iterator[Record]:
        for record in super().cloud():
            if isinstance(record, InstanceRecord) and int(record.uid[2:], 16) % 100 == 3:
                record = replace(record, state="stopped", instance_type="m5.xlarge",
                                 tags={**(record.tags or {}), "team": "edited"})
            yield record


def collect(graph: Graph, syn: Synthetic, capture: bool) -> float:
    return run_graphinv(graph, syn, capture_changes=capture)


def changes(graph: Graph) -> int:
    return int(graph.run_read("MATCH (c:Change) RETURN count(c) AS n")[0]["n"])


def store_changes(graph: Graph, total: int, days: int = 90) -> None:
    """`total` published changes, evenly spread over the last `days`, written in chunks."""
    now = datetime.now(UTC)
    chunk = 50_000
    for start in range(0, total, chunk):
        graph.run_write(
            """
            UNWIND range($start, $end - 1) AS i
            CREATE (:Change {uid: 'bench-' + toString(i), kind: ['appeared', 'changed', 'gone'][i % 3],
              at: $now - duration({seconds: toInteger(i * $span / $total)}), node_uid: 'i-' + toString(i % 100000),
              node_label: 'Instance', provider: ['aws', 'gcp', 'azure', 'openstack'][i % 4],
              project: 'p' + toString(i % 300), property: 'state', before: 'running', after: 'stopped'})
            """,
            {"start": start, "end": min(total, start + chunk), "now": now, "span": days * 86400, "total": total},
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--stored", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--reads-only", action="store_true", help="only store changes and time the reads")
    args = parser.parse_args()
    syn, edited = Synthetic(args.instances), Edited(args.instances)
    print(f"synthetic landscape: {args.instances} instances, {syn.node_count()} nodes")
    with bench_graph() as graph:
        if not args.reads_only:
            ingest_rounds(graph, syn, edited)
        reads(graph, args.stored, args.repeat)


def ingest_rounds(graph: Graph, syn: Synthetic, edited: Synthetic) -> None:
    install_schema(graph)
    collect(graph, Synthetic(2000), True)  # warm the server (JIT, page cache); not measured
    wipe(graph)
    rows: dict[str, tuple[float, float]] = {}
    for capture in (False, True):
        wipe(graph)
        first = collect(graph, syn, capture)
        recorded_first = changes(graph)
        same = collect(graph, syn, capture)
        recorded_same = changes(graph) - recorded_first
        edit = collect(graph, edited, capture)
        recorded_edit = changes(graph) - recorded_first - recorded_same
        collect(graph, syn, capture)  # back to the original for the next round
        print(f"capture {'on ' if capture else 'off'}: first {first:7.1f} s ({recorded_first} changes), "
              f"unchanged {same:7.1f} s ({recorded_same}), 1 % edited {edit:7.1f} s ({recorded_edit})")
        rows[f"first{capture}"], rows[f"same{capture}"] = (first, 0), (same, 0)
        rows[f"edit{capture}"] = (edit, 0)
    for name, label in (("first", "first ingest"), ("same", "unchanged re-collection"),
                        ("edit", "re-collection, 1 % changed")):
        off, on = rows[f"{name}False"][0], rows[f"{name}True"][0]
        print(f"{label:28s}: capture on / off = {on / off:5.2f}  ({on - off:+.1f} s)")


def reads(graph: Graph, stored: int, repeat: int) -> None:
    wipe(graph)
    install_schema(graph)
    started = time.perf_counter()
    store_changes(graph, stored)
    print(f"stored {stored} changes over 90 days in {time.perf_counter() - started:.1f} s")
    since = datetime.now(UTC) - timedelta(hours=24)
    for title, filt in (("changes --since 24h", ChangeFilter(since=since)),
                        ("changes --since 24h --provider aws --kind gone",
                         ChangeFilter(since=since, provider="aws", kind="gone"))):
        for limit, surface in ((10_000, "CLI default limit"), (101, "GraphQL default page")):
            times, found = [], 0
            for _ in range(repeat):
                started = time.perf_counter()
                found = len(list_changes(graph, filt, limit=limit))
                times.append(time.perf_counter() - started)
            print(f"{title} ({surface}): {found} rows, median {statistics.median(times) * 1000:.0f} ms "
                  f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}) over {repeat} runs")


if __name__ == "__main__":
    main()
