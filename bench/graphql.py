"""Latency of a deep GraphQL traversal: compiled to one Cypher query (the default), the DataLoader
path alone, and the naive path, in one process.

The data: one project with 50 shoots x 20 machines, each machine on a VM with 2 disks and an
Elastic IP (plus, by default, 5,000 unrelated VMs of other projects so indexes matter). The query
walks project -> shoots -> machines -> instance -> disks and IPs. All servers run the same schema
on the same Neo4j: `compiled` is the default app (graphinv/api/compiled.py: one Cypher query per
root field), `batched` resolves every nested field through DataLoaders (`create_app(...,
batch_loads=True)`), the naive one with one query per parent (`batch_loads=False`). Each runs
behind uvicorn on 127.0.0.1 and is measured by 1 and by 16 concurrent HTTP clients; latency is per
request as the client sees it.

Baseline in the same run: the same data fetched by ONE hand-written Cypher query with nested
`COLLECT {}` subqueries (same page sizes, same properties), decoded by the driver and serialised to
JSON in this process; the GraphQL p50 is printed as a multiple of it.

Usage: python bench/graphql.py [--requests 40] [--naive-requests 8] [--noise 5000] [--json out.json]
(--naive-requests 0 skips the naive path; --profile 5 prints a cProfile of 5 in-process requests
per path instead of timing.)
(GRAPHINV_BENCH_NEO4J_URI points it at an existing, disposable Neo4j instead of a fresh one.)
"""

# ruff: noqa: E402
from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import math
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run as `python bench/graphql.py`, this file's folder comes first on sys.path, and its name would
# hide the `graphql` package strawberry imports: drop the folder, put the repository root first
# (hence the imports below the path set-up, and the file-wide E402 exemption).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench._server import bench_graph, wipe
from bench.synthetic import Synthetic
from collectors.records import (
    CloudAccountRecord,
    DiskRecord,
    InstanceRecord,
    IPRecord,
    MachineRecord,
    ProjectRecord,
    Record,
    RegionRecord,
    ShootRecord,
)
from collectors.scope import Scope
from graphinv.api import create_app
from graphinv.api.settings import ApiSettings
from graphinv.api.threaded import serving
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema

PROJECT = "bench"
SHOOTS = 50
MACHINES = 20
CREATED = datetime(2026, 1, 1, tzinfo=UTC)
QUERY = """query($name: String!) { project(name: $name) { name shoots(first: 50) { name technicalId
  machines(first: 20) { name phase instance { uid status instanceType disks(first: 4) { uid sizeGb }
  ips(first: 2) { address } } } } } }"""


HAND_WRITTEN = """
MATCH (p:Project {name: $name})
RETURN p {.name, shoots: COLLECT {
  MATCH (p)-[:HAS_SHOOT]->(s:Shoot) WITH s ORDER BY s.uid LIMIT 50
  RETURN s {.name, technicalId: s.technical_id, machines: COLLECT {
    MATCH (s)-[:HAS_MACHINE]->(m:Machine) WITH m ORDER BY m.uid LIMIT 20
    RETURN m {.name, .phase, instance: COLLECT {
      MATCH (m)-[:RUNS_ON]->(i:Instance) WITH i ORDER BY i.uid LIMIT 1
      RETURN i {.uid, .status, instanceType: i.instance_type,
        disks: COLLECT { MATCH (i)-[:HAS_DISK]->(d:Disk) WITH d ORDER BY d.uid LIMIT 4
                         RETURN d {.uid, sizeGb: d.size_gb} },
        ips: COLLECT { MATCH (i)-[:HAS_IP]->(a:IP) WITH a ORDER BY a.uid LIMIT 2 RETURN a {.address} }}
    }[0]}
  }}
}} AS project
"""


def measure_cypher(graph: Graph, runs: int) -> dict[str, Any]:
    """The hand-written single query: p50 of fetch + JSON, as a client of Neo4j sees it."""
    samples = []
    for n in range(runs + 1):
        started = time.perf_counter()
        rows = graph.run_read(HAND_WRITTEN, {"name": PROJECT})
        body = json.dumps({"data": {"project": rows[0]["project"]}})
        elapsed = time.perf_counter() - started
        machines = sum(len(s["machines"]) for s in rows[0]["project"]["shoots"])
        if machines != SHOOTS * MACHINES:
            raise RuntimeError(f"hand-written query: expected {SHOOTS * MACHINES} machines, got {machines}")
        if n:  # the first run plans the query
            samples.append(elapsed)
    return {"path": "cypher", "clients": 1, "requests": runs, "p50_ms": round(statistics.median(samples) * 1000, 1),
            "p95_ms": round(sorted(samples)[max(0, math.ceil(0.95 * runs) - 1)] * 1000, 1),
            "throughput_rps": round(runs / sum(samples), 2), "round_trips": [1], "bytes": len(body)}


def bench_project() -> Iterator[tuple[Scope, list[Record], list[Record]]]:
    garden: list[Record] = [ProjectRecord(uid=PROJECT, name=PROJECT, namespace=f"garden-{PROJECT}")]
    machines: list[Record] = []
    cloud: list[Record] = []
    for s in range(SHOOTS):
        tech = f"shoot--{PROJECT}--s{s:02d}"
        garden.append(ShootRecord(uid=f"garden-{PROJECT}/s{s:02d}", name=f"s{s:02d}", namespace=f"garden-{PROJECT}",
                                  technical_id=tech, provider="aws", region="eu-west-1", seed_name="seed",
                                  project_ref=PROJECT, created=CREATED))
        for m in range(MACHINES):
            uid = f"i-b{s:03d}{m:013d}"
            name = f"{tech}-worker-z1-{m}"
            common: dict[str, Any] = dict(provider="aws", account_id="999999999999", region="eu-west-1",
                                          zone="eu-west-1a", cluster=tech, shoot_ref=tech,
                                          account_ref="aws:999999999999", region_ref="aws:eu-west-1", created=CREATED)
            machines.append(MachineRecord(uid=f"seed/{tech}/{name}", name=name, namespace=tech, seed_name="seed",
                                          phase="Running", shoot_ref=tech, instance_ref=uid, created=CREATED))
            cloud.append(InstanceRecord(uid=uid, name=name, state="running", status="running", role="node",
                                        instance_type="m5.large", **common))
            cloud += [DiskRecord(uid=f"vol-{uid[2:]}{d}", size_gb=50, disk_type="gp3", boot=d == 0, attached=True,
                                 attached_instances=[uid], instance_ref=uid, state="in-use", **common)
                      for d in range(2)]
            cloud.append(IPRecord(uid=f"eipalloc-{uid[2:]}", address=f"198.18.{s}.{m}", allocation="elastic",
                                  attached=True, instance_ref=uid, **common))
    context: list[Record] = [CloudAccountRecord(uid="aws:999999999999", provider="aws", account_id="999999999999"),
                             RegionRecord(uid="aws:eu-west-1", provider="aws", name="eu-west-1")]
    yield Scope("gardener", "garden-bench", "global", "Shoot", ("Project",)), [], garden
    yield Scope("gardener", "seed-bench", "global", "Machine"), [], machines
    yield Scope("aws", "999999999999", "eu-west-1", "Instance", ("Disk", "IP")), context, cloud


def load(graph: Graph, noise: int) -> None:
    wipe(graph)
    install_schema(graph)
    ingest = Ingest(graph)
    for scope, context, records in bench_project():
        if context:
            ingest.write_context(scope, context)
        with ingest.scope(scope) as run:
            run.write(records)
    if noise:
        syn = Synthetic(instances=noise)
        for noise_scope, stream in syn.scopes():
            ingest.write_context(noise_scope, syn.context())
            with ingest.scope(noise_scope) as run:
                run.write(stream)


async def _client(http: httpx.AsyncClient, url: str, count: int, samples: list[float], trips: list[int]) -> None:
    for _ in range(count):
        started = time.perf_counter()
        response = await http.post(url, json={"query": QUERY, "variables": {"name": PROJECT}})
        elapsed = time.perf_counter() - started
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"query failed: {body['errors']}")
        machines = sum(len(s["machines"]) for s in body["data"]["project"]["shoots"])
        if machines != SHOOTS * MACHINES:
            raise RuntimeError(f"expected {SHOOTS * MACHINES} machines, got {machines}")
        samples.append(elapsed)
        trips.append(body["extensions"]["graphinv"]["roundTrips"])


def measure(base: str, clients: int, per_client: int) -> dict[str, Any]:
    async def run() -> tuple[list[float], list[int], float]:
        samples: list[float] = []
        trips: list[int] = []
        limits = httpx.Limits(max_connections=clients)
        async with httpx.AsyncClient(timeout=600, limits=limits) as http:
            await _client(http, f"{base}/graphql", 1, [], [])  # warm-up: driver pool, caches, JIT of plans
            started = time.perf_counter()
            await asyncio.gather(*(_client(http, f"{base}/graphql", per_client, samples, trips)
                                   for _ in range(clients)))
            return samples, trips, time.perf_counter() - started

    samples, trips, wall = asyncio.run(run())
    ordered = sorted(samples)
    return {
        "clients": clients, "requests": len(samples),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] * 1000, 1),  # nearest rank
        "throughput_rps": round(len(samples) / wall, 2),
        "round_trips": sorted(set(trips)),
    }


class InlineExecutor(ThreadPoolExecutor):
    """Runs `asyncio.to_thread` work in the calling thread, so one profiler sees a request's whole CPU."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the awaiting coroutine, as a thread pool would
            future.set_exception(exc)
        return future


def profile(graph: Graph, runs: int, top: int = 14) -> None:
    """cProfile of `runs` requests per path, executed in-process (no HTTP), query work inline."""
    for path, compiled in (("compiled", True), ("batched", False)):
        asyncio.run(_profile_path(graph, path, compiled, runs, top))


async def _profile_path(graph: Graph, path: str, compiled: bool, runs: int, top: int) -> None:
    from graphinv.api.context import RequestContext
    from graphinv.api.loaders import Loaders
    from graphinv.api.request_graph import RequestGraph
    from graphinv.api.schema import build_schema
    from graphinv.orphan_settings import PriceTable

    settings = ApiSettings(timeout_seconds=600)
    schema = build_schema(settings)
    prices = PriceTable.load()  # the app reads it once (orphans.price_table())

    async def request() -> None:
        db = RequestGraph(graph, settings.timeout_seconds)
        context = RequestContext(db=db, loaders=Loaders(db), settings=settings, compiled=compiled, prices=prices)
        result = await schema.execute(QUERY, {"name": PROJECT}, context_value=context)
        if result.errors:
            raise RuntimeError(f"{path}: {result.errors}")
        json.dumps({"data": result.data})

    asyncio.get_running_loop().set_default_executor(InlineExecutor())
    await request()  # warm-up
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(runs):
        await request()
    profiler.disable()
    print(f"\n== {path}: {(time.perf_counter() - started) / runs * 1000:.0f} ms per request under the "
          f"profiler; top {top} by own time", flush=True)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=40,
                        help="requests per scenario for the compiled and batched paths")
    parser.add_argument("--naive-requests", type=int, default=8, help="requests per scenario for the naive path")
    parser.add_argument("--noise", type=int, default=5000, help="unrelated VMs in the graph (Synthetic)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--profile", type=int, metavar="RUNS", default=0,
                        help="instead of timing: profile RUNS in-process requests per path (cProfile)")
    args = parser.parse_args()

    results: list[dict[str, Any]] = []
    with bench_graph(heap="2g", pagecache="1g") as graph:
        started = time.perf_counter()
        load(graph, args.noise)
        print(f"loaded {SHOOTS} shoots x {MACHINES} machines (+{args.noise} noise VMs) "
              f"in {time.perf_counter() - started:.1f} s", flush=True)
        if args.profile:
            profile(graph, args.profile)
            return
        baseline = measure_cypher(graph, args.requests)
        results.append(baseline)
        print(json.dumps(baseline), flush=True)
        settings = ApiSettings(timeout_seconds=600)
        paths: list[tuple[str, bool | None, int]] = [
            ("compiled", None, args.requests), ("batched", True, args.requests), ("naive", False, args.naive_requests)]
        for path, batch, total in paths:
            if total < 1:
                continue
            with serving(create_app(graph, settings, batch_loads=batch)) as base:
                answer = httpx.post(f"{base}/graphql", json={"query": QUERY, "variables": {"name": PROJECT}},
                                    timeout=600).json()["data"]
                same = answer == {"project": graph.run_read(HAND_WRITTEN, {"name": PROJECT})[0]["project"]}
                print(f"{path}: same data as the hand-written query: {'yes' if same else 'NO'}", flush=True)
                for clients in (1, 16):
                    per_client = max(1, total // clients)
                    row = {"path": path, **measure(base, clients, per_client)}
                    results.append(row)
                    print(json.dumps(row), flush=True)

    print()
    print(f"{'path':8} {'clients':>7} {'requests':>8} {'p50 ms':>9} {'p95 ms':>9} {'req/s':>7}  round trips/request")
    for r in results:
        print(f"{r['path']:8} {r['clients']:>7} {r['requests']:>8} {r['p50_ms']:>9} {r['p95_ms']:>9} "
              f"{r['throughput_rps']:>7}  {r['round_trips']}")
    for r in results:
        if r["path"] != "cypher":
            print(f"{r['path']} with {r['clients']} client(s): p50 = {r['p50_ms'] / baseline['p50_ms']:.1f}x "
                  "the hand-written single Cypher query's")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
