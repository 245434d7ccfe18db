"""Watch latency under churn, next to a full Gardener re-list measured in the same run on the same server.

A scale-10 landscape is served by the Gardener simulator; graphinv's watches keep the graph current
while graphinv.sim.churn keeps RATE API events per second going (machines created and deleted the
way machine-controller-manager does it, shoots created, deleted, hibernated, tokens expired).

Per rate it prints the p50/p95 latency from the moment the simulated API server made a change to
the moment graphinv committed it, the events/s applied, and whether lag grows (the median of the
last third of the run against the first third). Then, as the baseline, one change and one full
Gardener re-list (`graphinv collect` of the gardener source): the time the scheduled path takes to
reflect that change even when it starts right away; the ratio says how much sooner the watch is.

Usage: python -m bench.watch [--rates 50,200,1000] [--seconds 20] [--scale 10]
       (GRAPHINV_BENCH_NEO4J_URI=bolt://... to use a running, disposable Neo4j)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._server import bench_graph, wipe
from graphinv.collect import run_tasks
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema
from graphinv.sim.churn import Churn
from graphinv.sim.gardener_api import GardenerSim
from graphinv.sim.generate import generate
from graphinv.sources import plan_sources
from graphinv.watch.gardener import GardenerWatches
from graphinv.watch.settings import WatchSettings
from graphinv.watch.stream import Change, ResourceWatch


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


class Committed:
    """resourceVersion -> commit time, from the watches' listener."""

    def __init__(self) -> None:
        self.at: dict[int, float] = {}
        self.received: dict[int, float] = {}  # when the watch read the event off its stream
        self.lock = threading.Lock()

    def __call__(self, _watch: ResourceWatch, changes: list[Change], committed: float) -> None:
        with self.lock:
            for change in changes:
                if change.resource_version and not change.initial:
                    self.at[int(change.resource_version)] = committed
                    self.received[int(change.resource_version)] = change.received


def made_times(sim: GardenerSim, since_rv: int) -> dict[int, float]:
    out: dict[int, float] = {}
    with sim.api._lock:  # the bench reads the simulator's event log directly
        for per_cluster in sim.api._clusters.values():
            for collection in per_cluster.values():
                out.update({e.rv: e.made for e in collection.events if e.rv > since_rv})
    return out


def run_rate(sim: GardenerSim, churn: Churn, committed: Committed, rate: float, seconds: float) -> dict[str, Any]:
    since = sim.api.resource_version
    started = time.time()
    churn.start(rate)
    time.sleep(seconds)
    churn.stop()
    made = made_times(sim, since)
    last = max(made) if made else since
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # let the watches catch up (or give up after 2 minutes)
        with committed.lock:
            if last in committed.at or not made:
                break
        time.sleep(0.05)
    with committed.lock:
        pairs = sorted((m, committed.at[rv] - m) for rv, m in made.items() if rv in committed.at)
        # The two halves of each latency: the API server and stream to graphinv, and graphinv to the commit.
        delivery = [committed.received[rv] - m for rv, m in made.items() if rv in committed.at]
        writing = [committed.at[rv] - committed.received[rv] for rv in made if rv in committed.at]
    latencies = [lag for _m, lag in pairs]
    third = max(1, len(pairs) // 3)
    early, late = [lag for _m, lag in pairs[:third]], [lag for _m, lag in pairs[-third:]]
    return {
        "rate": rate, "made": len(made), "made_per_s": len(made) / seconds,
        "applied": len(pairs), "p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95),
        "early_p50": statistics.median(early) if early else float("nan"),
        "late_p50": statistics.median(late) if late else float("nan"),
        "delivery_p50": percentile(delivery, 0.5), "delivery_p95": percentile(delivery, 0.95),
        "writing_p50": percentile(writing, 0.5), "writing_p95": percentile(writing, 0.95),
        "seconds": time.time() - started,
    }


def full_relist(graph: Graph, sim: GardenerSim, churn: Churn) -> float:
    """One change, then a complete Gardener read (all garden kinds and every seed's machines)."""
    churn.create_machine()
    started = time.perf_counter()
    run_tasks(Ingest(graph), plan_sources({"sources": {"gardener": sim.source_config()}}, ["gardener"]))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="50,200,1000")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--scale", type=float, default=10.0)
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    landscape = generate(args.scale, 0)
    machines = sum(len(s.machines) for s in landscape.shoots)
    print(f"landscape scale {args.scale:g}: {len(landscape.seeds)} seeds, {len(landscape.shoots)} shoots, "
          f"{machines} machines")
    with bench_graph() as graph, tempfile.TemporaryDirectory(prefix="graphinv-bench-watch-") as workdir:
        wipe(graph)
        install_schema(graph)
        trips = []
        for _ in range(20):  # what one write costs on this server right now: the floor of any latency
            begin = time.perf_counter()
            graph.run_write("MERGE (b:BenchProbe {uid: 'x'}) SET b.at = timestamp()")
            trips.append(time.perf_counter() - begin)
        graph.run_write("MATCH (b:BenchProbe) DELETE b")
        print(f"server: one write transaction takes p50 {percentile(trips, 0.5) * 1000:.1f} ms, "
              f"p95 {percentile(trips, 0.95) * 1000:.1f} ms (a batch of changes is one)")
        sim = GardenerSim(landscape, Path(workdir))  # synthetic providerIDs: the Gardener side only
        sim.start()
        committed = Committed()
        settings = WatchSettings()  # the defaults: batches of up to 200 events, no waiting for more
        watches = GardenerWatches(sim.source_config(), Ingest(graph), settings, [committed])
        try:
            started = time.perf_counter()
            watches.start()
            unreadable = {f"{s.name}/Machine" for s in landscape.seeds if s.access != "ok"}  # planted 403s
            deadline = time.monotonic() + 900
            while (len(watches.watches) < 4 + len(landscape.seeds) or set(watches.down()) - unreadable) \
                    and time.monotonic() < deadline:
                time.sleep(0.1)
            print(f"watches up (initial lists) in {time.perf_counter() - started:.1f} s: "
                  f"{len(watches.watches) - len(watches.down())} live, {len(watches.down())} down "
                  f"(seeds the landscape makes unreadable)")
            churn = Churn(sim.api, None, seed=1)
            results = []
            for rate in rates:
                result = run_rate(sim, churn, committed, rate, args.seconds)
                results.append(result)
                grows = result["late_p50"] > 2 * max(result["early_p50"], 0.05)
                print(f"rate {rate:>6g}/s: made {result['made_per_s']:7.1f}/s, applied {result['applied']:6d}/"
                      f"{result['made']:<6d} p50 {result['p50'] * 1000:8.1f} ms  p95 {result['p95'] * 1000:8.1f} ms  "
                      f"(first third p50 {result['early_p50'] * 1000:.0f} ms, last {result['late_p50'] * 1000:.0f} ms"
                      f"{': lag grows' if grows else ''})")
                print(f"{'':12}of which API server to graphinv p50 {result['delivery_p50'] * 1000:.1f} ms "
                      f"p95 {result['delivery_p95'] * 1000:.1f} ms; graphinv to commit p50 "
                      f"{result['writing_p50'] * 1000:.1f} ms p95 {result['writing_p95'] * 1000:.1f} ms")
        finally:
            watches.stop()
        relist = full_relist(graph, sim, churn)
        print(f"baseline: a full Gardener re-list reflecting one change takes {relist:.2f} s "
              f"(plus the wait for its schedule, 1 h by default)")
        for result in results:
            print(f"  rate {result['rate']:>6g}/s: watch p50 is {relist / result['p50']:.0f}x sooner, "
                  f"p95 {relist / result['p95']:.0f}x sooner")
        sim.stop()


if __name__ == "__main__":
    main()
