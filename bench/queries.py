"""Orphan queries on a large graph: their plans (index use, no AllNodesScan) and median latency,
next to the same queries with the schema's range indexes dropped (uniqueness constraints stay,
so only the lookups the model adds for queries are taken away), in the same process.

With --report: the orphan report itself at --instances VMs of which --orphans have lost their machine:
the three orphan queries as written (Neo4j DateTime values, a record per row), with integer
timestamps and a record per row, as the report runs them (integer timestamps, all rows in one record:
graphinv/orphan_rows.py), and a count-only floor (Neo4j's own time), all in this process; then
`graphinv orphans --format json` end to end (process start to exit) with the driver's Rust
extension and with it blocked (pure-Python PackStream), one after the other (with --baseline-rev REV
also with the code at REV, alternating with the working tree's); then
`graphinv changes --since 24h` (one default page, and 10,000 rows) over the changes the load recorded.

Usage: python bench/queries.py [--instances 100000] [--runs 7]
       python bench/queries.py --report [--instances 100000] [--orphans 100] [--runs 7] [--keep] [--baseline-rev REV]
(GRAPHINV_BENCH_NEO4J_URI: an existing, disposable Neo4j; --report wipes it first.)
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neo4j.exceptions import DatabaseError

from bench._server import bench_graph, wipe
from bench.ingest import run_graphinv
from bench.synthetic import Synthetic
from graphinv.db import Graph
from graphinv.ingest import install_schema
from graphinv.orphan_rows import PLAIN_COLUMNS, TIME_COLUMNS, micros, primitive_rows
from graphinv.orphans import OrphanFilter, orphan_report
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


# The operators that read a whole label or every node: what an index-backed plan never shows.
SCANS = ("AllNodesScan", "NodeByLabelScan")


def plan_operators(graph: Graph, text: str, params: dict[str, Any]) -> list[str]:
    """The operators of the query's plan: PROFILE, or EXPLAIN where Neo4j 5.26 cannot profile the
    plan ("result has not been materialised yet", seen on large graphs); both show the same operators."""
    try:
        with graph.session() as session:
            plan = session.run("PROFILE " + text, params).consume().profile
    except DatabaseError:
        return explained_operators(graph, text, params)
    return _operators(plan)


def explained_operators(graph: Graph, text: str, params: dict[str, Any]) -> list[str]:
    """The operators of the plan Neo4j makes for `text` now, by EXPLAIN: nothing runs, so it is safe
    for write statements."""
    return _operators(_explained_plan(graph, text, params))


def explained_seeks(graph: Graph, text: str, params: dict[str, Any]) -> list[str]:
    """What each index seek of the EXPLAIN plan of `text` looks up (its operator's details)."""
    return [details(node) for node in plan_nodes(_explained_plan(graph, text, params))
            if "IndexSeek" in node["operatorType"]]


def _explained_plan(graph: Graph, text: str, params: dict[str, Any]) -> Any:
    with graph.session() as session:
        return session.run("EXPLAIN " + text, params).consume().plan


def plan_nodes(plan: Any) -> list[dict[str, Any]]:
    """Every operator of a plan or profile (the driver's nested dicts), parents before children."""
    nodes: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        nodes.append(node)
        for child in node.get("children", []):
            walk(child)

    walk(plan)
    return nodes


def details(node: dict[str, Any]) -> str:
    """What an operator works on, as EXPLAIN and PROFILE print it (`Details`)."""
    return str(node.get("args", {}).get("Details", ""))


def _operators(plan: Any) -> list[str]:
    return [node["operatorType"].split("@")[0] for node in plan_nodes(plan)]


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


REPORT_QUERIES = ("orphan_instances", "orphan_disks", "orphan_ips")
# Runs the CLI with the driver's Rust extension hidden: the driver then falls back to pure Python.
NO_RUST = ("import sys; sys.modules['neo4j._rust'] = None; sys.argv = ['graphinv'] + sys.argv[1:]; "
           "from graphinv.cli import main; main()")


def _report_queries(graph: Graph, fetch: Any) -> int:
    """The three orphan queries the report runs, in its order, fetched by `fetch`; the row count."""
    params = {"provider": None, "account": None, "project": None, "cutoff": None,
              "fresh_after": datetime.now(UTC) - timedelta(hours=6)}
    vms = fetch(graph, load_query("orphan_instances"), params)
    extra = {"orphan_instances": [r["uid"] for r in vms if r["verdict"] == "orphan"],
             "unverified_instances": [r["uid"] for r in vms if r["verdict"] == "unverified"]}
    return len(vms) + sum(len(fetch(graph, load_query(n), params | extra)) for n in REPORT_QUERIES[1:])


def _plain(graph: Graph, query: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    return query.run(graph, **params)


def _primitive(graph: Graph, query: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    # as the report fetches them: with the lifecycle's columns
    return primitive_rows(graph, query, lifecycle=True, **params)


def _primitive_per_record(graph: Graph, query: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    # The same integer timestamps, one record per row (what orphan_rows did before it collected them).
    columns = ", ".join([*PLAIN_COLUMNS, *(f"{micros(c)} AS {c}" for c in TIME_COLUMNS)])
    return graph.run_read(f"CALL () {{\n{query.text}\n}}\nRETURN {columns}", query.bind(params))


def _count_only(graph: Graph, query: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    # Neo4j does all the work but sends one number: the floor for the client's share. The uids the
    # later queries need still come back, so the work matches.
    text = f"CALL () {{\n{query.text}\n}}\nRETURN collect(CASE WHEN verdict = 'orphan' THEN uid END) AS o, " \
           "collect(CASE WHEN verdict = 'unverified' THEN uid END) AS u, count(*) AS n"
    row = graph.run_read(text, query.bind(params))[0]
    return [{"uid": u, "verdict": "orphan"} for u in row["o"]] + \
        [{"uid": u, "verdict": "unverified"} for u in row["u"]] + [{}] * (row["n"] - len(row["o"]) - len(row["u"]))


def _median(work: Any, runs: int) -> tuple[float, Any]:
    result, times = work(), []
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def _cli_seconds(uri: str, argv: list[str], runs: int, code: Path | None = None) -> tuple[float, float, int]:
    """Median wall seconds and median CPU seconds (user + system) of the process, and its output size.
    `code`: a directory holding another version of graphinv's packages (`python -m` finds them first)."""
    env = dict(os.environ, GRAPHINV_NEO4J_URI=uri, GRAPHINV_CONFIG="")
    if code is not None:
        env["PYTHONPATH"] = str(code)
    times, cpu, size = [], [], 0
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, cwd=code)
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        assert done.returncode in (0, 1), done.stderr[-2000:]  # 1: orphans found (EXIT_FOUND)
        size = len(done.stdout)
    return statistics.median(times), statistics.median(cpu), size


def report_bench(args: argparse.Namespace) -> None:
    syn = Synthetic(args.instances, machine_lost_every=max(1, args.instances // max(1, args.orphans)))
    with bench_graph() as graph:
        # the landscape's own nodes: the changes, accounts and bookkeeping the load wrote are not counted
        loaded = graph.run_read("MATCH (n) WHERE n:Project OR n:Shoot OR n:Machine OR n:Instance OR n:Disk OR n:IP "
                                "RETURN count(n) AS c")[0]["c"]
        if args.keep and loaded == syn.node_count():
            # The kept landscape's reads are as old as the load: taken as read now, or every row would be
            # `unverified` (a stale read proves nothing) and `graphinv orphans` would refuse to run.
            # install_schema: a graph loaded by an older graphinv gets what this one keeps (its fill-ins).
            install_schema(graph)
            scopes = graph.run_write("MATCH (c:Collection) SET c.last_complete_started = datetime(), "
                                     "c.last_complete_finished = datetime() RETURN count(c) AS n")[0]["n"]
            print(f"keeping the {syn.node_count()} nodes already loaded (their {scopes} scopes taken as read now)",
                  flush=True)
        else:
            wipe(graph)
            install_schema(graph)
            print(f"loading {syn.node_count()} nodes ({args.orphans} VMs without a machine) ...", flush=True)
            run_graphinv(graph, syn, 5000)
        rows = len(orphan_report(graph, OrphanFilter()))
        print(f"orphan report: {rows} rows (orphans and unverified, with their disks and IPs)\n")
        print(f"{'the three orphan queries':46} {'median ms':>10} {'ms/row':>8}")
        figures = {}
        for label, fetch in (("Neo4j DateTime values, a record per row", _plain),
                             ("integer timestamps, a record per row", _primitive_per_record),
                             ("integer timestamps, one record (as shipped)", _primitive),
                             ("count only (Neo4j's floor)", _count_only)):
            ms, n = _median(lambda fetch=fetch: _report_queries(graph, fetch), args.runs)
            figures[label] = ms
            print(f"{label:46} {ms:>10.1f} {ms / max(n, 1):>8.4f}")
        plain = figures["Neo4j DateTime values, a record per row"]
        per_record = figures["integer timestamps, a record per row"]
        shipped = figures["integer timestamps, one record (as shipped)"]
        print(f"integer timestamps: {plain / per_record:.2f}x faster than DateTime values; "
              f"one record: {per_record / shipped:.2f}x faster than a record per row")
        ms, report = _median(lambda: orphan_report(graph, OrphanFilter()), args.runs)
        print(f"orphan_report() itself: {ms:.1f} ms for {len(report)} rows = {ms / max(len(report), 1):.4f} ms/row\n")
        uri = graph_uri(graph)
        argv = ["orphans", "--format", "json"]
        runs = max(3, args.runs // 2)
        rust, rust_cpu, size = _cli_seconds(uri, [sys.executable, "-m", "graphinv", *argv], runs)
        pure, pure_cpu, _ = _cli_seconds(uri, [sys.executable, "-c", NO_RUST, *argv], runs)
        help_s, help_cpu, _ = _cli_seconds(uri, [sys.executable, "-m", "graphinv", "orphans", "--help"], runs)
        print(f"`graphinv orphans --format json` end to end ({size} bytes of JSON), median of {runs} runs:")
        print(f"{'':36} {'wall s':>7} {'CPU s':>7}")
        print(f"{'  with the Rust extension':36} {rust:7.2f} {rust_cpu:7.2f}")
        print(f"{'  pure-Python driver':36} {pure:7.2f} {pure_cpu:7.2f}  "
              f"(CPU {pure_cpu / max(rust_cpu, 1e-9):.2f}x the Rust extension's)")
        print(f"{'  `graphinv orphans --help` (start-up)':36} {help_s:7.2f} {help_cpu:7.2f}")
        if args.baseline_rev:
            _against_baseline(uri, args.baseline_rev, [sys.executable, "-m", "graphinv", *argv], runs)
        # The load recorded every node's appearance: `graphinv changes` pages through them.
        published = graph.run_read("MATCH (c:Change) WHERE c.at IS NOT NULL RETURN count(c) AS n")[0]["n"]
        print(f"\n`graphinv changes --since 24h` over {published} published changes, median of {runs} runs:")
        for label, extra in (("default page (table)", []), ("default page (json)", ["--format", "json"]),
                             ("--limit 10000 (the old default, table)", ["--limit", "10000"])):
            wall, cpu, size = _cli_seconds(uri, [sys.executable, "-m", "graphinv", "changes", "--since", "24h", *extra],
                                           runs)
            print(f"  {label:40} {wall:7.2f} s wall {cpu:7.2f} s CPU ({size} bytes)")


def _against_baseline(uri: str, rev: str, argv: list[str], runs: int) -> None:
    """The same command with graphinv as it was at `rev` and as it is now, one run of each in turn."""
    from bench.collect import WHOLE_TREE, export_baseline

    with tempfile.TemporaryDirectory(prefix="graphinv-baseline-") as tmp:
        baseline = export_baseline(rev, Path(tmp), WHOLE_TREE)
        sides: dict[str, list[tuple[float, float]]] = {rev: [], "now": []}
        for _ in range(runs):
            for side, code in ((rev, baseline), ("now", None)):
                wall, cpu, _ = _cli_seconds(uri, argv, 1, code)
                sides[side].append((wall, cpu))
    print(f"\nthe same at {rev} and now, one run of each in turn, median of {runs}:")
    medians = {side: (statistics.median(w for w, _ in xs), statistics.median(c for _, c in xs))
               for side, xs in sides.items()}
    for side, (wall, cpu) in medians.items():
        print(f"  {side:34} {wall:7.2f} s wall {cpu:7.2f} s CPU")
    (now_wall, now_cpu), (was_wall, was_cpu) = medians["now"], medians[rev]
    print(f"  now / {rev}: wall {now_wall / was_wall:.2f}x, CPU {now_cpu / was_cpu:.2f}x")


def graph_uri(graph: Graph) -> str:
    """The Bolt address the bench graph listens on."""
    uri = os.environ.get("GRAPHINV_BENCH_NEO4J_URI")
    if uri:
        return uri
    return graph.conn.uri


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--report", action="store_true", help="the orphan report and `graphinv orphans` end to end")
    parser.add_argument("--orphans", type=int, default=100, help="with --report: VMs without a machine")
    parser.add_argument("--baseline-rev", metavar="REV",
                        help="with --report: also time `graphinv orphans --format json` with the code at REV, "
                             "alternating with the working tree's")
    parser.add_argument("--keep", action="store_true",
                        help="with --report: reuse the graph when it already holds exactly this landscape "
                             "(its reads are then taken as made now)")
    args = parser.parse_args()
    if args.report:
        report_bench(args)
        return
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
