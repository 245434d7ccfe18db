"""The collection runner: parallel reads, one writer, a failing scope never stops the others."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from collectors.records import CloudAccountRecord, InstanceRecord, RegionRecord
from collectors.scope import Scope, ScopeTask
from graphinv.collect import CHUNK, CollectionSummary, recover_interrupted, run_tasks
from graphinv.config import Neo4jConnection
from graphinv.db import Graph
from graphinv.ingest import Ingest, ScopeRunResult, install_schema
from graphinv.ingest.engine import OWNER
from graphinv.metrics import Metrics
from graphinv.ports import free_port
from graphinv.scheduler.collect_job import CollectJob, JobOutcome
from tests.support.scheduling import fast, job
from tests.support.watching import wait_for


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


def test_the_records_framing_several_scopes_are_written_once_a_run(graph: Graph) -> None:
    install_schema(graph)
    ingest = Ingest(graph, batch_size=100)
    # three kinds in one account and region share its account and region records (the context)
    vms = _task("r1", 5)
    tasks = [vms, *(ScopeTask(scope=Scope("aws", "111", "r1", kind), fetch=lambda: iter(()), context=vms.context)
                    for kind in ("Disk", "IP"))]
    for _ in range(2):
        before, transactions = ingest.round_trips, graph.write_transactions
        summary = run_tasks(ingest, tasks, concurrency=3)
        assert not summary.failed and summary.written == 5
        assert ingest.round_trips - before == 1 + 2  # the VMs' batch; the account and the region once
        assert graph.write_transactions - transactions == 3  # each scope's start and end in one
    assert graph.run_read("MATCH (a:CloudAccount {uid: 'aws:111'})-[:OWNS]->(i) RETURN count(i) AS c") == [{"c": 5}]
    assert graph.run_read("MATCH (r:Region {uid: 'aws:r1'}) RETURN r.last_seen > r.first_seen AS again"
                          ) == [{"again": True}]  # the second run wrote them again


def _blocked_read(records: Iterator[InstanceRecord], release: threading.Event) -> Iterator[InstanceRecord]:
    yield from records
    assert release.wait(60), "the test never released the read"


def _collection_status(graph: Graph, scope: Scope) -> str | None:
    rows = graph.run_read("MATCH (c:Collection {uid: $k}) RETURN c.status AS s", {"k": scope.key})
    return rows[0]["s"] if rows else None


@pytest.mark.parametrize("records, wait", [(3, 0.2), (CHUNK, 3600.0)], ids=["slow", "large"])
def test_a_read_under_way_is_marked_running_before_its_end(graph: Graph, records: int, wait: float) -> None:
    # A read still going after the wait (slow), or one that has sent a full chunk (large, with a
    # wait it never reaches), says `running` in the graph while it reads, as a crash must find it.
    install_schema(graph)
    release = threading.Event()
    task = _task("r1", records)
    task = dataclasses.replace(task, fetch=lambda: _blocked_read(_instances("r1", records), release))
    statuses: list[str] = []
    done: list[CollectionSummary] = []
    runner = threading.Thread(target=lambda: done.append(run_tasks(
        Ingest(graph), [task], concurrency=1, progress=lambda _s, status, _n: statuses.append(status),
        start_wait=wait)))
    runner.start()
    try:
        wait_for(lambda: _collection_status(graph, task.scope) == "running", 60, "the running mark")
        assert "running" in statuses and "complete" not in statuses
    finally:
        release.set()
        runner.join(60)
    assert not done[0].failed and done[0].written == records
    assert _collection_status(graph, task.scope) == "complete"


@pytest.mark.parametrize("beats", [True, False], ids=["beating", "silent"])
def test_a_read_under_way_is_taken_for_abandoned_only_when_it_stops_saying_so(graph: Graph, beats: bool) -> None:
    # Another run (here: this test, as if on another host) records failed a `running` scope whose
    # reader has been silent for the lease; a reader that keeps beating is left alone. A live read
    # taken for abandoned loses nothing: its end still records it complete.
    install_schema(graph)
    release = threading.Event()
    task = _task("r1", 3)
    task = dataclasses.replace(task, fetch=lambda: _blocked_read(_instances("r1", 3), release))
    done: list[CollectionSummary] = []
    runner = threading.Thread(target=lambda: done.append(run_tasks(
        Ingest(graph), [task], concurrency=1, start_wait=0, heartbeat=0.2 if beats else 3600.0)))
    runner.start()
    try:
        wait_for(lambda: _collection_status(graph, task.scope) == "running", 60, "the running mark")
        time.sleep(5.0)  # longer than the lease below: only beats keep the scope alive
        recovered = recover_interrupted(graph, lease=4.0)  # 20 beats at least, on a loaded machine too
        row = graph.run_read("MATCH (c:Collection {uid: $k}) RETURN c.status AS s, c.error AS e, "
                             "c.heartbeat > c.started AS beaten", {"k": task.scope.key})[0]
        if beats:
            assert (recovered, row["s"], row["beaten"]) == (0, "running", True)
        else:
            assert (recovered, row["s"], row["beaten"]) == (1, "failed", False)
            assert "has not said it is still reading since" in row["e"] and OWNER in row["e"]
    finally:
        release.set()
        runner.join(60)
    assert not done[0].failed and done[0].written == 3
    assert _collection_status(graph, task.scope) == "complete"


def test_silent_running_scopes_of_any_host_are_recorded_failed(graph: Graph) -> None:
    install_schema(graph)
    now = datetime.now(UTC)
    ago = {"long": now - timedelta(minutes=30), "lease": now - timedelta(minutes=11),
           "short": now - timedelta(minutes=1)}
    collections = [  # uid, status, started, heartbeat (None: written before graphinv kept it), run id
        ("silent", "running", "long", "lease", "r1"),
        ("beating", "running", "long", "short", "r2"),
        ("old-graph-silent", "running", "lease", None, "r3"),
        ("old-graph-recent", "running", "short", None, "r4"),
        ("done", "complete", "long", "long", "r5"),
        ("ours", "running", "long", "lease", "live-run"),
    ]
    for uid, status, started, beat, run_id in collections:
        graph.run_write("CREATE (:Collection {uid: $uid, status: $status, started: $started, heartbeat: $beat, "
                        "run_id: $run_id, owner: 'collector-7f9c-x2:1'})",
                        {"uid": uid, "status": status, "started": ago[started], "beat": ago.get(beat or ""),
                         "run_id": run_id})
    assert recover_interrupted(graph, live_run_ids=["live-run"]) == 2
    rows = {r["uid"]: (r["status"], r["error"]) for r in graph.run_read(
        "MATCH (c:Collection) RETURN c.uid AS uid, c.status AS status, c.error AS error")}
    assert {uid for uid, (status, _) in rows.items() if status == "failed"} == {"silent", "old-graph-silent"}
    assert rows["silent"][1] == ("interrupted: its reader (collector-7f9c-x2:1) has not said it is still reading "
                                 f"since {ago['lease']:%Y-%m-%d %H:%M:%S} UTC")
    assert rows["done"] == ("complete", None) and rows["ours"][0] == "running"


def test_stop_event_fails_unfinished_scopes_without_sweeping(graph: Graph) -> None:
    install_schema(graph)
    ingest = Ingest(graph, batch_size=1000)
    run_tasks(ingest, [_task("r1", 5000)], concurrency=1)
    stop = threading.Event()
    stop.set()
    summary = run_tasks(ingest, [_task("r1", 3000)], concurrency=1, stop=stop)
    assert summary.results[0].status == "failed"
    assert graph.run_read("MATCH (i:Instance) RETURN count(i) AS c") == [{"c": 5000}]


class _BrokenGraph:
    """A graph that is gone: every statement raises."""

    def run_write(self, query: str, params: Any = None) -> Any:
        raise ConnectionResetError("graph gone")

    run_read = run_write


class _BrokenRun:
    start_pending = True

    def __init__(self, scope: Scope) -> None:
        self.run_id = f"broken-{scope.key}"
        self.result = ScopeRunResult(scope=scope, status="running")

    def write(self, records: Any) -> int:
        raise ConnectionResetError("write failed: connection reset")

    def begin(self) -> None:
        raise ConnectionResetError("write failed: connection reset")

    def fail(self, error: Any) -> ScopeRunResult:
        raise ConnectionResetError("cannot record the failure either")

    complete = fail


class _BrokenIngest:
    """A writer whose writes and whose failure records both raise (Neo4j died under it)."""

    graph = _BrokenGraph()

    def scope(self, scope: Scope, context: Any = (), defer_start: bool = False, on_running: Any = None) -> _BrokenRun:
        return _BrokenRun(scope)


@pytest.mark.timeout(60)
def test_a_broken_writer_stops_the_readers_instead_of_hanging() -> None:
    record = InstanceRecord(uid="i-1", provider="aws", account_id="111", region="r",
                            account_ref="aws:111", region_ref="aws:r")
    emitted: dict[str, int] = {}

    def many(region: str) -> Iterator[InstanceRecord]:
        for n in range(200_000):
            emitted[region] = n + 1
            yield record

    def fetcher(region: str) -> Callable[[], Iterator[InstanceRecord]]:
        return lambda: many(region)

    tasks = [ScopeTask(scope=Scope("aws", "111", f"r{n}", "Instance"), fetch=fetcher(f"r{n}")) for n in range(4)]
    done: list[CollectionSummary] = []
    runner = threading.Thread(target=lambda: done.append(run_tasks(cast(Ingest, _BrokenIngest()), tasks,
                                                                   concurrency=4)), daemon=True)
    runner.start()
    runner.join(30)
    assert not runner.is_alive(), "run_tasks hung after its writer failed"
    summary = done[0]
    assert summary.aborted and "write failed" in summary.aborted
    assert [r.status for r in summary.results] == ["failed"] * 4
    assert all(r.error and r.error.startswith("not finished") for r in summary.results)
    assert summary.swept == 0
    # The readers gave up long before the end of their scopes (about a queue's worth, not 800k).
    assert sum(emitted.values()) < 4 * 200_000 / 2, emitted


@pytest.mark.timeout(120)
def test_a_scheduled_job_on_a_dead_graph_ends_failed() -> None:
    """The scheduler's collection job returns (failed, saying why) instead of staying `running`."""
    settings = fast(job("aws", 3600), attempts=2, backoff=0.01)
    dead = Graph(Neo4jConnection(uri=f"bolt://127.0.0.1:{free_port()}"), max_retry_seconds=1)
    try:
        collect_job = CollectJob(settings.jobs[0], dead, lambda source: [_task("r1", 5000)], settings.retry,
                                 settings.concurrency, Metrics(), threading.Event())
        outcomes: list[JobOutcome] = []
        runner = threading.Thread(target=lambda: outcomes.append(collect_job()), daemon=True)
        runner.start()
        runner.join(90)
    finally:
        dead.close()
    assert not runner.is_alive(), "the collection job is still running on a dead graph"
    outcome = outcomes[0]
    assert outcome.status == "failed" and outcome.attempts == 2
    assert outcome.error and "Neo4j failed during the collection" in outcome.error
    assert outcome.failed_scopes == ["aws:111:r1:Instance"]
