"""Ansible `--list` and the NDJSON export on synthetic graphs: wall time and peak memory.

For each size (default 20k and 100k VMs) the synthetic landscape (bench/synthetic.py: shoots with
machines on VMs with disks and IPs) is written through the ingest engine, then measured:

- `graphinv ansible-inventory --list` and `graphinv export --format ndjson` as subprocesses (what a
  user runs), wall time and peak RSS of that process (os.wait4's rusage);
- baselines in this process on the same server: streaming the same nodes with the bare driver and
  discarding them (what no export can beat), and the Python interpreter importing graphinv's CLI
  (a floor on any `graphinv` command).

Printed: seconds, the ratio to the driver baseline, and peak MB; NDJSON's peak memory at the largest
size against the smallest shows whether it stays flat as the graph grows.

Usage: python -m bench.exports (as a module: run as a script, bench/graphql.py would shadow the
graphql package) [--sizes 20000,100000]   (GRAPHINV_BENCH_NEO4J_URI: an existing,
disposable Neo4j; otherwise a throw-away one is started)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from bench._server import bench_graph, wipe
from bench.synthetic import Synthetic
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema


def load(graph: Graph, instances: int) -> float:
    wipe(graph)
    install_schema(graph)
    syn = Synthetic(instances=instances)
    started = time.perf_counter()
    ingest = Ingest(graph)
    for scope, records in syn.scopes():
        ingest.write_context(scope, syn.context())
        with ingest.scope(scope) as run:
            run.write(records)
    return time.perf_counter() - started


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, bytes written to stdout) of one command."""
    with tempfile.TemporaryFile() as sink:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {stderr[-2000:]}")
        size = sink.tell()
    return wall, usage.ru_maxrss / 1024, size


def driver_baseline(graph: Graph, labels: list[str]) -> float:
    """Stream every node of the labels with the bare driver, discarding them."""
    started = time.perf_counter()
    with graph.session() as session:
        for label in labels:
            for _ in session.run(f"MATCH (n:{label}) RETURN n {{.*}} AS node"):
                pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,100000", help="VM counts, comma-separated")
    parser.add_argument("--heap", default="2g", help="heap of the throw-away Neo4j")
    parser.add_argument("--pagecache", default="2g", help="page cache of the throw-away Neo4j")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    graphinv = [sys.executable, "-m", "graphinv"]
    with bench_graph(args.heap, args.pagecache) as graph, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "graphinv.yaml"
        neo4j = {"uri": graph.conn.uri}
        if graph.conn.password:
            secret = graph.conn.password
            neo4j["password"] = secret.get_secret_value() if hasattr(secret, "get_secret_value") else str(secret)
        config.write_text(yaml.safe_dump({"neo4j": neo4j}))
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHINV_")}
        env["GRAPHINV_CONFIG"] = str(config)
        startup, _, _ = measure([sys.executable, "-c", "import graphinv.cli"], env)
        print(f"python + import graphinv.cli: {startup:.2f}s (in every command below)")
        ndjson_peaks: dict[int, float] = {}
        for size in sizes:
            loaded = load(graph, size)
            nodes = graph.run_read("MATCH (n) RETURN count(n) AS n")[0]["n"]
            print(f"\n== {size:,} instances ({nodes:,} nodes, loaded in {loaded:.0f}s)")
            base_vms = driver_baseline(graph, ["Instance"])
            wall, peak, out = measure([*graphinv, "ansible-inventory", "--list"], env)
            print(f"ansible-inventory --list      {wall:7.2f}s  {wall / base_vms:5.1f}x driver ({base_vms:.2f}s)  "
                  f"peak {peak:6.0f} MB  output {out / 1e6:.1f} MB")
            labels = ["Project", "Shoot", "Machine", "CloudAccount", "Region", "Instance", "Disk", "IP"]
            base_all = driver_baseline(graph, labels)
            wall, peak, out = measure([*graphinv, "export", "--format", "ndjson"], env)
            ndjson_peaks[size] = peak
            print(f"export --format ndjson        {wall:7.2f}s  {wall / base_all:5.1f}x driver ({base_all:.2f}s)  "
                  f"peak {peak:6.0f} MB  output {out / 1e6:.1f} MB")
        if len(ndjson_peaks) > 1:
            small, large = min(ndjson_peaks), max(ndjson_peaks)
            print(f"\nNDJSON peak memory {large:,} vs {small:,} instances: "
                  f"{ndjson_peaks[large] / ndjson_peaks[small]:.2f}x ({large / small:.0f}x the graph)")


if __name__ == "__main__":
    main()
