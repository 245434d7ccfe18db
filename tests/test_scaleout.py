"""Scope tasks on a real queue: Debian's redis-server, real `graphinv worker` processes, one Neo4j.

The reference is a single-process collection of the same simulated landscape; every distributed
run must leave the same graph, node for node (uid, labels, properties except bookkeeping such as
last_seen or run_id) and edge for edge ((type, start, end)), including after a worker is killed,
Redis restarts or Neo4j goes away for 30 s.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from graphinv.collect import run_tasks
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema
from graphinv.ports import free_port
from graphinv.settings.load import load_settings, settings_from_mapping
from graphinv.settings.neo4j import Neo4jConnection
from graphinv.sim.generate import generate
from graphinv.sim.http import set_latency
from graphinv.sim.runtime import SimulatedLandscape
from graphinv.sources import plan_sources
from tests.support.graph import wipe
from tests.support.processes import graphinv_command, start_process, stop_process, wait_for_http, wait_until
from tests.support.scaleout import (
    Edges,
    Nodes,
    RedisServer,
    differences,
    distributed_cycle,
    graph_snapshot,
    redis_server_missing,
    start_workers,
    stop_workers,
    write_config,
)
from tests.support.tcp_proxy import PausableProxy

MISSING = redis_server_missing()
if MISSING:
    print(f"skipping the scale-out tests: {MISSING}")
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


@dataclass
class Reference:
    snapshot: tuple[Nodes, Edges]
    failed: set[str]  # scopes the landscape makes fail (a seed that answers 403)


@pytest.fixture(scope="module")
def landscape(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatedLandscape]:
    with SimulatedLandscape(generate(scale=0.05, seed=3), tmp_path_factory.mktemp("sim")) as sim:
        yield sim


@pytest.fixture(scope="module")
def reference(landscape: SimulatedLandscape, session_graph: Graph) -> Reference:
    """One process, the in-process runner: what the graph must look like."""
    wipe(session_graph)
    install_schema(session_graph)
    cfg = settings_from_mapping(landscape.config(), env={})
    summary = run_tasks(Ingest(session_graph), plan_sources(cfg.sources, []), concurrency=8)
    assert summary.aborted is None
    snapshot = graph_snapshot(session_graph)
    assert len(snapshot[0]) > 100 and len(snapshot[1]) > 100
    return Reference(snapshot, {r.scope.key for r in summary.failed})


@pytest.fixture
def redis_srv(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def _config(tmp_path: Path, landscape: SimulatedLandscape, neo4j_uri: str, redis_url: str, **queue: Any) -> Any:
    path = write_config(tmp_path / "graphinv.yaml", landscape.config(), neo4j_uri, redis_url, **queue)
    return path, load_settings(path, env={})


def _assert_same(reference: Reference, graph: Graph) -> None:
    diffs = differences(reference.snapshot, graph_snapshot(graph), limit=40)
    assert not diffs, "\n".join(diffs)


def _failed(outcomes: dict[str, Any]) -> set[str]:
    return {key for outcome in outcomes.values() for key in outcome.failed_scopes}


def _owners(graph: Graph) -> set[str]:
    return {row["owner"] for row in graph.run_read("MATCH (c:Collection) RETURN DISTINCT c.owner AS owner")}


@pytest.mark.xfail(strict=False, reason=(
    "known open defect (issue 19): on a loaded machine workers lose scope locks and fail scopes, and "
    "links written from both ends by concurrent workers were lost (relink after each scope now closes "
    "that race); the comparison itself is strict"))
def test_four_workers_build_the_same_graph_as_one_process(
        graph: Graph, landscape: SimulatedLandscape, reference: Reference, redis_srv: RedisServer,
        neo4j_connection: Neo4jConnection, tmp_path: Path) -> None:
    path, cfg = _config(tmp_path, landscape, neo4j_connection.uri, redis_srv.url, max_retries=1)
    install_schema(graph)
    workers = start_workers(4, path, tmp_path / "logs")
    try:
        outcomes = distributed_cycle(cfg, graph)
    finally:
        stop_workers(workers)
    assert _failed(outcomes) == reference.failed, [w.describe() for w in workers]
    _assert_same(reference, graph)
    pids = {str(w.popen.pid) for w in workers}
    writers = {owner.rsplit(":", 1)[1] for owner in _owners(graph)}
    assert writers <= pids and len(writers) >= 2, f"scopes written by {writers} of workers {pids}"
    stats: dict[bytes, bytes] = redis.Redis.from_url(redis_srv.url).hgetall("graphinv:stats")  # type: ignore[assignment]
    # The planted failing scope was retried once, then dead-lettered; every other scope completed once.
    assert int(stats.get(b"dead:gardener", 0)) == len(reference.failed)
    assert sum(int(v) for k, v in stats.items() if k.startswith(b"complete:")) \
        == sum(len(o.results) for o in outcomes.values()) - len(reference.failed)


def _wait_for_results(redis_url: str, count: int, watched: list[Any]) -> None:
    client = redis.Redis.from_url(redis_url)

    def recorded() -> int:
        return sum(int(client.hlen(key)) for key in client.scan_iter("graphinv:cycle:*"))

    wait_until(lambda: recorded() >= count, 300, f"{count} scope results", watched, interval=0.1)


@pytest.mark.slow
def test_a_worker_killed_mid_scope_is_retried_elsewhere_and_nothing_is_lost(
        graph: Graph, landscape: SimulatedLandscape, reference: Reference, redis_srv: RedisServer,
        neo4j_connection: Neo4jConnection, tmp_path: Path) -> None:
    path, cfg = _config(tmp_path, landscape, neo4j_connection.uri, redis_srv.url, max_retries=8)
    install_schema(graph)
    set_latency(0.25)  # scopes take long enough to be caught in the middle
    workers = start_workers(3, path, tmp_path / "logs", threads=2)
    victim = workers[0]
    owner = f"{socket.gethostname()}:{victim.popen.pid}"
    result: dict[str, Any] = {}
    cycle = threading.Thread(target=lambda: result.update(distributed_cycle(cfg, graph)))
    try:
        cycle.start()
        wait_until(lambda: bool(graph.run_read(
            "MATCH (c:Collection {status: 'running', owner: $owner}) RETURN c LIMIT 1", {"owner": owner})),
            300, "the victim worker to be in the middle of a scope", workers, interval=0.05)
        half_read = [r["key"] for r in graph.run_read(
            "MATCH (c:Collection {status: 'running', owner: $owner}) RETURN c.uid AS key", {"owner": owner})]
        os.kill(victim.popen.pid, signal.SIGKILL)
        victim.popen.wait(30)
        cycle.join(600)
        assert not cycle.is_alive()
    finally:
        set_latency(0.0)
        stop_workers(workers[1:])
    assert _failed(result) == reference.failed
    _assert_same(reference, graph)
    for key in half_read:  # read again, completely, by a surviving worker
        row = graph.run_read("MATCH (c:Collection {uid: $key}) RETURN c.status AS status, c.owner AS owner",
                             {"key": key})[0]
        if key not in reference.failed:
            assert row["status"] == "complete" and row["owner"] != owner, (key, row)


@pytest.mark.slow
def test_redis_restarted_mid_run_the_workers_reconnect_and_the_cycle_completes(
        graph: Graph, landscape: SimulatedLandscape, reference: Reference, redis_srv: RedisServer,
        neo4j_connection: Neo4jConnection, tmp_path: Path) -> None:
    path, cfg = _config(tmp_path, landscape, neo4j_connection.uri, redis_srv.url, max_retries=8)
    install_schema(graph)
    set_latency(0.1)
    workers = start_workers(2, path, tmp_path / "logs", threads=4)
    result: dict[str, Any] = {}
    cycle = threading.Thread(target=lambda: result.update(distributed_cycle(cfg, graph)))
    try:
        cycle.start()
        _wait_for_results(redis_srv.url, 5, workers)
        redis_srv.restart(down_seconds=3.0)
        cycle.join(600)
        assert not cycle.is_alive()
        assert all(w.alive() for w in workers), [w.describe() for w in workers]
    finally:
        set_latency(0.0)
        stop_workers(workers)
    assert _failed(result) == reference.failed, [w.describe() for w in workers]
    _assert_same(reference, graph)


@pytest.mark.slow
def test_neo4j_away_for_30_seconds_tasks_retry_and_complete(
        graph: Graph, landscape: SimulatedLandscape, reference: Reference, redis_srv: RedisServer,
        neo4j_connection: Neo4jConnection, tmp_path: Path) -> None:
    bolt_port = int(neo4j_connection.uri.rsplit(":", 1)[1])
    proxy = PausableProxy(bolt_port).start()
    path, cfg = _config(tmp_path, landscape, f"bolt://127.0.0.1:{proxy.port}", redis_srv.url, max_retries=20,
                        max_backoff="5s")
    install_schema(graph)
    set_latency(0.1)
    workers = start_workers(2, path, tmp_path / "logs", threads=4)
    result: dict[str, Any] = {}
    cycle = threading.Thread(target=lambda: result.update(distributed_cycle(cfg, graph)))
    try:
        cycle.start()
        _wait_for_results(redis_srv.url, 5, workers)
        proxy.stop()
        time.sleep(30)
        proxy.start()
        cycle.join(600)
        assert not cycle.is_alive()
    finally:
        set_latency(0.0)
        stop_workers(workers)
        proxy.stop()
    assert _failed(result) == reference.failed, [w.describe() for w in workers]
    _assert_same(reference, graph)


def test_scheduler_start_distributed_enqueues_and_workers_collect(
        graph: Graph, landscape: SimulatedLandscape, reference: Reference, redis_srv: RedisServer,
        neo4j_connection: Neo4jConnection, tmp_path: Path) -> None:
    """The shipped commands: `graphinv scheduler start --distributed` and two `graphinv worker`s."""
    path, cfg = _config(tmp_path, landscape, neo4j_connection.uri, redis_srv.url, max_retries=1)
    port = free_port()
    env = {"GRAPHINV_CONFIG": str(path), "GRAPHINV_SCHEDULER_METRICS_PORT": str(port),
           "GRAPHINV_SCHEDULER_RETRY_ATTEMPTS": "1"}
    logs = tmp_path / "logs"
    workers = start_workers(2, path, logs)
    scheduler = start_process("scheduler", graphinv_command("scheduler", "start", "--distributed"), logs, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/healthz", 120, [scheduler])

        def cycle_done() -> bool:
            jobs = [j for j in httpx.get(f"{url}/jobs", timeout=10).json() if j["type"] == "collect"]
            return bool(jobs) and all(j["last_status"] for j in jobs)

        wait_until(cycle_done, 600, "one distributed collection cycle", [scheduler, *workers])
        metrics = httpx.get(f"{url}/metrics", timeout=30).text
    finally:
        stop_process(scheduler)
        stop_workers(workers)
    assert "distributed: scope tasks go to queue scopes" in scheduler.log()
    for source in cfg.configured_sources:
        assert f'graphinv_queue_scopes_completed_total{{source="{source}"}}' in metrics, source
    for source in cfg.configured_sources[1:]:
        assert f'graphinv_job_runs_total{{job="collect:{source}",status="complete"}} 1.0' in metrics, source
    assert f'graphinv_queue_dead_letters_total{{source="gardener"}} {float(len(reference.failed))}' in metrics
    assert 'graphinv_queue_scope_retries_total{source="gardener"}' in metrics
    assert "graphinv_queue_depth 0.0" in metrics
    # Everything the single-process collection wrote is there (the alerts that ran after add their own nodes).
    nodes, edges = graph_snapshot(graph)
    missing = sorted(set(reference.snapshot[0]) - set(nodes))
    assert not missing, missing[:10]
    assert not reference.snapshot[1] - edges
