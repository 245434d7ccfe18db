"""Scale-out: one collection cycle in-process, then through the Redis queue with 1, 2, 4 and 8 workers.

A landscape is served by the simulators with LATENCY per request (+/- 30 % jitter), so collection is
I/O-bound as against real clouds. Each run starts from an empty graph on the same Neo4j:

- in-process: graphinv.collect.run_tasks with the scheduler's default concurrency, the baseline;
- N workers: Debian's redis-server, N `graphinv worker --threads T` processes (started before the
  clock starts), every configured source's scopes enqueued at once as `graphinv scheduler start
  --distributed` does; the clock stops when every scope has its result.

Printed per run: wall time, speed-up over 1 worker (and over in-process), scopes, Neo4j transaction
retries (transient errors the driver retried), peak memory (VmHWM) per worker process.

Usage: python -m bench.scaleout [--scale 20] [--latency 150ms] [--workers 1,2,4,8] [--threads 8]
       (GRAPHINV_BENCH_NEO4J_URI=bolt://... to use a running, disposable Neo4j)
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from bench._server import bench_graph, wipe
from graphinv.db import Graph
from graphinv.distributed.settings import QueueSettings
from graphinv.distributed.tasks import ScopeQueue, result_of
from graphinv.ingest import install_schema
from graphinv.ports import free_port
from graphinv.settings.load import settings_from_mapping
from graphinv.settings.types import parse_duration
from graphinv.sim.generate import generate
from graphinv.sim.http import set_latency
from graphinv.sim.runtime import SimulatedLandscape
from graphinv.sources import plan_sources


def in_process(graph: Graph, sim_config: dict[str, Any], concurrency: int, workdir: Path) -> dict[str, Any]:
    """`graphinv collect` in a process of its own, as the workers are (in this process it would share
    the GIL with the simulators and look several times slower than it is)."""
    wipe(graph)
    install_schema(graph)
    config = workdir / "in-process.yaml"
    config.write_text(yaml.safe_dump({**sim_config, "neo4j": {"uri": graph.conn.uri}}))
    began = time.monotonic()
    subprocess.run([sys.executable, "-m", "graphinv", "collect", "--quiet", "--concurrency", str(concurrency)],
                   env={**os.environ, "GRAPHINV_CONFIG": str(config)}, stdout=subprocess.DEVNULL, check=False)
    wall = time.monotonic() - began
    runs = graph.run_read("MATCH (c:Collection) RETURN c.status AS status, c.written AS written")
    return {"wall": wall, "scopes": len(runs), "failed": sum(1 for r in runs if r["status"] != "complete"),
            "records": sum(int(r["written"] or 0) for r in runs), "tx_retries": "-",
            "peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def _hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def distributed(graph: Graph, sim_config: dict[str, Any], sources: Any, workers: int, threads: int,
                workdir: Path) -> dict[str, Any]:
    wipe(graph)
    install_schema(graph)
    port = free_port()
    redis_dir = workdir / f"redis-{workers}"
    redis_dir.mkdir(parents=True)
    redis = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(redis_dir),
                              "--appendonly", "yes", "--save", ""], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    config = workdir / f"graphinv-{workers}.yaml"
    config.write_text(yaml.safe_dump({**sim_config, "neo4j": {"uri": graph.conn.uri},
                                      "queue": {"url": url, "max_retries": 3, "min_backoff": "1s"}}))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        time.sleep(0.5)
        env = {**os.environ, "GRAPHINV_CONFIG": str(config)}
        for n in range(workers):
            log = (workdir / f"worker-{workers}-{n}.log").open("wb")
            procs.append(subprocess.Popen([sys.executable, "-m", "graphinv", "worker", "--threads", str(threads),
                                           "--log-level", "warning"], stdout=subprocess.PIPE, stderr=log, env=env))
        for proc in procs:  # each prints one line once it consumes
            assert proc.stdout is not None and proc.stdout.readline(), "a worker did not start"
        queue = ScopeQueue(QueueSettings(url=url))  # type: ignore[arg-type]
        tasks = plan_sources(sources, [])
        cycle = uuid.uuid4().hex
        began = time.monotonic()
        for task in tasks:
            queue.enqueue(task.scope, cycle, "bench")
        wanted = {t.scope.key for t in tasks}
        while not wanted <= set(got := queue.results(cycle)):
            time.sleep(0.05)
        wall = time.monotonic() - began
        results = [result_of(t.scope, got[t.scope.key]) for t in tasks]
        failed = sum(1 for r in results if r.status != "complete")
        stats = queue.stats()
        peaks = [_hwm_mib(p.pid) for p in procs]
        queue.close()
        return {"wall": wall, "scopes": len(tasks), "failed": failed, "records": sum(r.total_written for r in results),
                "tx_retries": stats.get("neo4j_tx_retries", 0),
                "peak_mib": max(peaks), "retries": sum(v for k, v in stats.items() if k.startswith("retries:"))}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(120)
        redis.terminate()
        redis.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency", default="150ms")
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--threads", type=int, default=8, help="scopes each worker reads at once")
    parser.add_argument("--concurrency", type=int, default=8, help="in-process readers (the scheduler's default)")
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        sys.exit("redis-server is not installed (apt-get install -y redis-server)")
    counts = [int(n) for n in args.workers.split(",")]
    latency = parse_duration(args.latency).total_seconds()
    set_latency(latency)
    rows: list[tuple[str, dict[str, Any]]] = []
    # A small server given time to start on a busy machine.
    server = bench_graph(heap="1g", pagecache="1g", tx_memory_max="1g", start_timeout=900)
    with tempfile.TemporaryDirectory(prefix="graphinv-scaleout-") as tmp, server as graph:
        workdir = Path(tmp)
        with SimulatedLandscape(generate(args.scale, args.seed), workdir / "sim") as sim:
            sim_config = sim.config()
            sources = settings_from_mapping(sim_config, env={}).sources
            print(f"scale {args.scale:g}, latency {latency * 1000:g} ms/request, {args.threads} threads per worker, "
                  f"{os.cpu_count()} CPUs", flush=True)
            rows.append(("in-process", in_process(graph, sim_config, args.concurrency, workdir)))
            print(f"in-process: {rows[-1][1]['wall']:.1f} s", flush=True)
            for n in counts:
                rows.append((f"{n} worker(s)", distributed(graph, sim_config, sources, n, args.threads, workdir)))
                print(f"{n} worker(s): {rows[-1][1]['wall']:.1f} s", flush=True)
    one = next((r for name, r in rows if name == "1 worker(s)"), None)
    base = rows[0][1]["wall"]
    print(f"\n{'run':<14} {'wall s':>8} {'vs 1 worker':>12} {'vs in-proc':>11} {'scopes':>7} {'failed':>7} "
          f"{'records':>8} {'queue retries':>14} {'neo4j retries':>14} {'peak MiB/proc':>14}")
    for name, r in rows:
        speedup = f"{one['wall'] / r['wall']:.2f}x" if one else "-"
        print(f"{name:<14} {r['wall']:>8.1f} {speedup:>12} {base / r['wall']:>10.2f}x {r['scopes']:>7} "
              f"{r['failed']:>7} {r['records']:>8} {r.get('retries', '-')!s:>14} {r['tx_retries']:>14} "
              f"{r['peak_mib']:>14.0f}")
    per_scope = one["wall"] / max(1, one["scopes"]) * args.threads if one else 0.0
    print(f"\nmeasured per-scope time (1 worker, {args.threads} threads): {per_scope:.2f} s per scope per thread")


if __name__ == "__main__":
    main()
