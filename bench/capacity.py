"""`graphinv capacity --by project` on synthetic graphs (bench/synthetic.py): median latency per size
and its growth, against a baseline measured in the same process on the same server (a plain count of
the running VMs, the least any capacity answer must read).

    .venv/bin/python -m bench.capacity --sizes 20000 100000

(GRAPHINV_BENCH_NEO4J_URI: an existing, disposable Neo4j; it is wiped first. Without it a throw-away
server is started.) Every VM of the synthetic graph is an m5.large; its catalogue entry is written
the way the AWS collector writes it, so each VM has its OF_TYPE edge.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench._server import bench_graph, wipe
from bench.ingest import run_graphinv
from bench.synthetic import Synthetic
from collectors.catalogue import machine_type
from collectors.scope import Scope
from graphinv.capacity import capacity, instance_verdicts
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema

BASELINE = "MATCH (i:Instance) WHERE i.status = 'running' RETURN count(i) AS n"


def write_catalogue(graph: Graph) -> None:
    scope = Scope("aws", "all", "eu-west-1", "MachineType")
    ingest = Ingest(graph, batch_size=1000)
    with ingest.scope(scope) as run:
        run.write([machine_type("aws", "eu-west-1", "m5.large", vcpus=2, memory_mib=8192),
                   machine_type("aws", "eu-west-1", "g5.xlarge", vcpus=4, memory_mib=16384, gpu_count=1,
                                gpu_model="NVIDIA A10G")])


def median_ms(work: Callable[[], Any], runs: int) -> tuple[float, Any]:
    result, times = work(), []  # one warm-up run: plans cached, pages in memory
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def measure(graph: Graph, size: int, runs: int) -> dict[str, Any]:
    wipe(graph)
    install_schema(graph)
    loaded = run_graphinv(graph, Synthetic(size), 5000)
    write_catalogue(graph)
    orphans, unverified = instance_verdicts(graph)
    base_ms, _ = median_ms(lambda: graph.run_read(BASELINE), runs)
    query_ms, rows = median_ms(lambda: capacity(graph, "project", orphans=orphans, unverified=unverified), runs)
    full_ms, _ = median_ms(lambda: capacity(graph, "project"), runs)  # with the orphan verdicts, as the CLI
    vcpus = sum(r["vcpus"] for r in rows)
    assert vcpus == 2 * size, f"every synthetic VM is an m5.large (2 vCPUs): {vcpus} != {2 * size}"
    return {"size": size, "load_s": loaded, "groups": len(rows), "baseline_ms": base_ms, "capacity_ms": query_ms,
            "with_verdicts_ms": full_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20000, 100000])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    results = []
    with bench_graph() as graph:
        for size in args.sizes:
            result = measure(graph, size, args.runs)
            results.append(result)
            print(f"{size:>7} instances ({result['groups']} projects, loaded in {result['load_s']:.0f}s): "
                  f"capacity --by project {result['capacity_ms']:.0f} ms median "
                  f"({result['capacity_ms'] / result['baseline_ms']:.1f}x the running-VM count's "
                  f"{result['baseline_ms']:.0f} ms); with the orphan verdicts {result['with_verdicts_ms']:.0f} ms",
                  flush=True)
    first = results[0]
    for result in results[1:]:
        growth = result["capacity_ms"] / first["capacity_ms"]
        base_growth = result["baseline_ms"] / first["baseline_ms"]
        print(f"growth {first['size']} -> {result['size']} instances (x{result['size'] / first['size']:.0f}): "
              f"capacity x{growth:.1f}, baseline x{base_growth:.1f}, "
              f"with verdicts x{result['with_verdicts_ms'] / first['with_verdicts_ms']:.1f}")


if __name__ == "__main__":
    main()
