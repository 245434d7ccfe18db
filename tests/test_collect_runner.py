"""The collection runner: parallel reads, one writer, a failing scope never stops the others."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from collectors.records import CloudAccountRecord, InstanceRecord, RegionRecord
from collectors.scope import Scope, ScopeTask
from graphinv.collect import run_tasks
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema


def _instances(region: str, n: int, fail_after: int | None = None) -> Iterator[InstanceRecord]:
    for i in range(n):
        if fail_after is not None and i == fail_after:
            raise PermissionError(f"UnauthorizedOperation in {region}")
        yield InstanceRecord(uid=f"i-{region}-{i}", provider="aws", account_id="111", region=region,
                             account_ref="aws:111", region_ref=f"aws:{region}")


def _task(region: str, n: int, fail_after: int | None = None) -> ScopeTask:
    return ScopeTask(
        scope=Scope("aws", "111", region, "Instance"),
        fetch=lambda: _instances(region, n, fail_after),
        context=[CloudAccountRecord(uid="aws:111", provider="aws", account_id="111"),
                 RegionRecord(uid=f"aws:{region}", provider="aws", name=region)],
    )


def test_failing_scope_is_isolated_and_sweeps_nothing(graph: Graph) -> None:
    install_schema(graph)
    ingest = Ingest(graph, batch_size=500)
    first = run_tasks(ingest, [_task("r1", 2500), _task("r2", 1200), _task("r3", 10)], concurrency=3)
    assert not first.failed and first.written == 3710
    # Second run: r2 now fails halfway, r3 shrank; r1 unchanged.
    second = run_tasks(ingest, [_task("r1", 2500), _task("r2", 1200, fail_after=600), _task("r3", 4)],
                       concurrency=3)
    by_region = {r.scope.region: r for r in second.results}
    assert by_region["r2"].status == "failed" and "UnauthorizedOperation" in (by_region["r2"].error or "")
    assert by_region["r1"].status == "complete" and by_region["r3"].swept == {"Instance": 6}
    counts = {row["region"]: row["c"] for row in graph.run_read(
        "MATCH (i:Instance) RETURN i.region AS region, count(*) AS c")}
    assert counts == {"r1": 2500, "r2": 1200, "r3": 4}  # r2 keeps everything it had
    assert graph.run_read("MATCH (:CloudAccount)-[:OWNS]->(i) RETURN count(i) AS c") == [{"c": 3704}]
    assert graph.run_read("MATCH (i)-[:IN_REGION]->(:Region {uid: 'aws:r1'}) RETURN count(i) AS c") == [{"c": 2500}]


def test_writes_happen_on_the_calling_thread_only(graph: Graph) -> None:
    install_schema(graph)
    writers: set[str] = set()
    ingest = Ingest(graph, batch_size=100)
    original = graph.write

    def spy(work: Any) -> Any:
        writers.add(threading.current_thread().name)
        return original(work)

    graph.write = spy  # type: ignore[method-assign]
    try:
        run_tasks(ingest, [_task(f"r{n}", 300) for n in range(6)], concurrency=4)
    finally:
        del graph.write
    assert writers == {threading.current_thread().name}


def test_stop_event_fails_unfinished_scopes_without_sweeping(graph: Graph) -> None:
    install_schema(graph)
    ingest = Ingest(graph, batch_size=1000)
    run_tasks(ingest, [_task("r1", 5000)], concurrency=1)
    stop = threading.Event()
    stop.set()
    summary = run_tasks(ingest, [_task("r1", 3000)], concurrency=1, stop=stop)
    assert summary.results[0].status == "failed"
    assert graph.run_read("MATCH (i:Instance) RETURN count(i) AS c") == [{"c": 5000}]
