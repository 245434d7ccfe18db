"""Collector CPU per record, per provider, before and after a change (not a test: numbers, no assertions).

    .venv/bin/python bench/collect.py --scale 20
    .venv/bin/python bench/collect.py --scale 5 --providers openstack azure --baseline-rev e981ebb

The simulator serves the landscape from its own process (`graphinv sim serve`), so what is measured
is the collector's CPU alone. Each measurement runs in a fresh collector process: it plans the
provider's scopes from the simulator's config, reads every scope once to warm up (imports, tokens,
connection pools), then reads them all again one after the other on one thread and reports the
process CPU seconds (`time.process_time`, every thread of the process) of that second read.

"before" runs the `collectors/` package as it was at `--baseline-rev` (exported with `git archive`
into a temporary directory put first on the path), "after" the working tree's; everything else
(graph_schema, graphinv) is the working tree's in both. Both read the same simulator in the same
run, and the records they produce are compared: `same` says whether both sides produced exactly
the same records.

`--end-to-end` also times `graphinv collect` of every source into an empty graph, then a second
`graphinv collect` into the graph the first left (a re-collection, as the scheduler runs all day),
before and after.
By default "before" differs only in `collectors/`, as above; `--end-to-end-rev REV` makes "before" the
whole code (graphinv, graph_schema, collectors, queries) at REV instead, to measure a change of the write
path. Each side starts with an empty graph and an empty query cache (planning is part of the cost), and
when the server runs on this machine its CPU seconds during the side are reported as well, beside the
collecting process's and the simulator's. `--rounds N` runs the sides N times, alternating, and gives
the ratio of the medians: on a shared machine one run of each is not enough to tell 5 % apart.

    GRAPHINV_BENCH_NEO4J_URI=bolt://127.0.0.1:7687 .venv/bin/python bench/collect.py --scale 5 --no-cpu \
        --end-to-end --end-to-end-rev HEAD~1 --rounds 2
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from io import BytesIO
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
PROVIDERS = ("openstack", "azure", "aws", "gcp")
WHOLE_TREE = ("graphinv", "graph_schema", "collectors", "queries")  # the installed packages (pyproject.toml)
# The last commit whose collectors all read through the SDKs' object models.
DEFAULT_BASELINE = "e981ebb"


def measure(config_path: Path, provider: str, out_path: Path, profile: bool = False) -> None:
    """In a fresh process: CPU seconds of one full read of `provider`'s scopes, and a digest of its records."""
    import importlib

    import yaml

    section = yaml.safe_load(config_path.read_text())["sources"][provider]
    plan = importlib.import_module(f"collectors.{provider}").plan

    def read_all() -> tuple[float, float, list[str]]:
        tasks = plan(section)  # fresh collectors: the catalogue cache is per collector
        records: list[Any] = []
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for task in tasks:
            records.extend(task.fetch())
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        # Outside the timing: what the records say, to compare both sides.
        lines = [json.dumps([r.label, dataclasses.asdict(r)], sort_keys=True, default=str) for r in records]
        return cpu, wall, lines

    read_all()  # warm-up: lazy imports, tokens, connection set-up
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile(time.process_time)  # CPU, not waiting for answers
        profiler.enable()
        read_all()
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    cpu, wall, lines = read_all()
    lines.sort()
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    out_path.write_text(json.dumps({"cpu": cpu, "wall": wall, "records": len(lines), "digest": digest,
                                    "source": str(sys.modules["collectors"].__file__)}))
    (out_path.with_suffix(".records")).write_text("\n".join(lines))


def export_baseline(rev: str, into: Path, packages: tuple[str, ...] = ("collectors",)) -> Path:
    """The `packages` (default: `collectors/`) at `rev`, written under `into`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, *packages],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def start_simulator(landscape_file: Path, workdir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    config = workdir / "graphinv-sim.yaml"
    process = subprocess.Popen([str(ROOT / ".venv/bin/graphinv"), "sim", "serve", str(landscape_file),
                                "--workdir", str(workdir / "sim"), "--write-config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    for raw in process.stdout:
        line = raw.decode(errors="replace")
        if line.startswith("serving"):
            # Keep draining its output so the simulator never blocks on a full pipe.
            threading.Thread(target=_drain, args=(process.stdout,), daemon=True).start()
            return process, config
    raise RuntimeError(f"the simulator did not start (exit {process.wait()})")


def _drain(stream: IO[bytes]) -> None:
    for _line in stream:
        pass


def run_side(config: Path, provider: str, code: Path | None, out: Path) -> dict[str, Any]:
    env = {**os.environ}
    if code is not None:
        env["PYTHONPATH"] = str(code)
    subprocess.run([sys.executable, __file__, "measure", "--config", str(config), "--provider", provider,
                    "--out", str(out)], check=True, env=env)
    result: dict[str, Any] = json.loads(out.read_text())
    expected = str(code) if code is not None else str(ROOT)
    assert result["source"].startswith(expected), (result["source"], expected)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    inner = sub.add_parser("measure", help="(internal) one measurement in this process")
    inner.add_argument("--config", type=Path, required=True)
    inner.add_argument("--provider", choices=PROVIDERS, required=True)
    inner.add_argument("--out", type=Path, required=True)
    inner.add_argument("--profile", action="store_true", help="print a cProfile of one extra read to stderr")
    parser.add_argument("--scale", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--providers", nargs="+", choices=PROVIDERS, default=list(PROVIDERS))
    parser.add_argument("--end-to-end", action="store_true",
                        help="also time `graphinv collect` of every source into Neo4j, before and after "
                             "(GRAPHINV_BENCH_NEO4J_URI, else a throw-away local server; the graph is wiped)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="end to end: run both sides this many times, alternating; ratios of the medians")
    parser.add_argument("--no-cpu", action="store_true", help="skip the per-provider CPU table")
    parser.add_argument("--baseline-rev", default=DEFAULT_BASELINE,
                        help="git revision whose collectors/ is 'before' (default: %(default)s)")
    parser.add_argument("--end-to-end-rev", default=None,
                        help="end to end: 'before' is the whole code at this revision, not only collectors/")
    args = parser.parse_args()
    if args.command == "measure":
        measure(args.config, args.provider, args.out, args.profile)
        return

    sys.path.insert(0, str(ROOT))
    from graphinv.sim.generate import generate
    from graphinv.sim.landscape import dump_landscape

    with tempfile.TemporaryDirectory(prefix="graphinv-bench-collect-") as tmp:
        work = Path(tmp)
        landscape_file = work / "landscape.yaml"
        landscape_file.write_text(dump_landscape(generate(args.scale, args.seed)))
        baseline = export_baseline(args.baseline_rev, work / "baseline")
        started = time.perf_counter()
        simulator, config = start_simulator(landscape_file, work)
        print(f"scale {args.scale:g}: simulator up in {time.perf_counter() - started:.1f}s "
              f"(pid {simulator.pid}); baseline collectors/ at {args.baseline_rev}")
        try:
            if not args.no_cpu:
                cpu_table(args.providers, config, baseline, work)
            if args.end_to_end:
                whole = (export_baseline(args.end_to_end_rev, work / "whole", WHOLE_TREE)
                         if args.end_to_end_rev else None)
                end_to_end(config, whole or baseline, work, simulator.pid, args.rounds)
        finally:
            simulator.terminate()
            simulator.wait(timeout=60)


def cpu_table(providers: list[str], config: Path, baseline: Path, work: Path) -> None:
    print(f"{'provider':10} {'records':>8} {'before CPU/rec':>14} {'after CPU/rec':>13} {'ratio':>6} "
          f"{'before rec/s':>13} {'after rec/s':>12}  same")
    for provider in providers:
        before = run_side(config, provider, baseline, work / f"{provider}-before.json")
        after = run_side(config, provider, None, work / f"{provider}-after.json")
        per_before = before["cpu"] / max(before["records"], 1)
        per_after = after["cpu"] / max(after["records"], 1)
        same = before["digest"] == after["digest"]
        print(f"{provider:10} {after['records']:8d} {per_before * 1e6:12.1f}us {per_after * 1e6:11.1f}us "
              f"{per_before / per_after if per_after else float('inf'):5.2f}x "
              f"{before['records'] / before['cpu']:13.0f} {after['records'] / after['cpu']:12.0f}  "
              f"{'yes' if same else 'NO (' + str(before['records']) + ' before)'}", flush=True)
        if not same:
            _show_difference(work / f"{provider}-before.records", work / f"{provider}-after.records")


def end_to_end(config: Path, baseline: Path, work: Path, simulator: int | None = None, rounds: int = 1) -> None:
    """`graphinv collect` of every configured source into an empty graph, then once more into the graph
    that left (a re-collection: what a scheduler does all day), in a fresh process each, per side;
    `rounds` times, the sides alternating (the first side of the first round also warms the server's
    JVM). Prints each process's CPU beside Neo4j's and the simulator's: on a small machine their sum
    against the wall time says whether the CPU is what limits the run."""
    import yaml

    from bench._server import bench_graph, wipe
    from collectors.records import RECORD_TYPES

    labels = [record_type.label for record_type in RECORD_TYPES]  # the records' nodes, not history's

    with bench_graph() as graph:
        settings = yaml.safe_load(config.read_text())
        settings["neo4j"] = {"uri": graph.conn.uri}
        full = work / "graphinv-e2e.yaml"
        full.write_text(yaml.safe_dump(settings))
        full.chmod(0o600)
        rates: dict[tuple[str, str], list[float]] = {}
        server = _server_pid(graph.conn.uri)
        for side, code in [("before", baseline), ("after", None)] * rounds:
            wipe(graph)
            graph.run_write("CALL db.clearQueryCaches()")  # each side plans its own statements
            env = {**os.environ, **({"PYTHONPATH": str(code)} if code is not None else {})}
            for run in ("first", "again"):
                cpu, sim_cpu = _cpu_seconds(server), _cpu_seconds(simulator)
                own_cpu = _children_cpu_seconds()
                started = time.perf_counter()
                done = subprocess.run([str(ROOT / ".venv/bin/graphinv"), "-c", str(full), "collect", "-q"],
                                      env=env, capture_output=True, text=True)
                elapsed = time.perf_counter() - started
                cpu, sim_cpu = _cpu_seconds(server) - cpu, _cpu_seconds(simulator) - sim_cpu
                own_cpu = _children_cpu_seconds() - own_cpu
                nodes = graph.run_read("MATCH (n) WHERE any(label IN labels(n) WHERE label IN $labels) "
                                       "RETURN count(n) AS c", {"labels": labels})[0]["c"]
                rates.setdefault((side, run), []).append(nodes / elapsed)
                server_cpu = f", Neo4j CPU {cpu:.1f}s" if server else ""
                sim_part = f", simulator CPU {sim_cpu:.1f}s" if simulator else ""
                why = f": {done.stderr.strip().splitlines()[-1]}" if done.returncode and done.stderr.strip() else ""
                what = "into an empty graph" if run == "first" else "re-collection     "
                print(f"end to end {side:6} {what}: {nodes} records in {elapsed:.1f}s = "
                      f"{nodes / elapsed:.0f} records/s; collect CPU {own_cpu:.1f}s{server_cpu}{sim_part} "
                      f"(exit {done.returncode}{why})", flush=True)
        for run, what in (("first", "into an empty graph"), ("again", "re-collection")):
            before, after = statistics.median(rates[("before", run)]), statistics.median(rates[("after", run)])
            print(f"end to end ratio, {what}: {after / before:.2f}x (medians {before:.0f} -> {after:.0f} records/s)")


def _children_cpu_seconds() -> float:
    """User + system CPU seconds of this process's finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _server_pid(uri: str) -> int | None:
    """The process listening on the Bolt port of `uri`, when it runs on this machine and we may see it."""
    port = urlsplit(uri).port or 7687
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                    inodes.add(fields[9])
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd).removeprefix("socket:[").removesuffix("]") in inodes:
                    return int(proc.name)
    return None


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of process `pid` so far (0 when unknown)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _show_difference(before: Path, after: Path, limit: int = 3) -> None:
    old, new = set(before.read_text().splitlines()), set(after.read_text().splitlines())
    for line in sorted(old - new)[:limit]:
        print(f"   only before: {line[:400]}")
    for line in sorted(new - old)[:limit]:
        print(f"   only after:  {line[:400]}")


if __name__ == "__main__":
    main()
