"""Scope tasks on a real queue: Debian's redis-server, real `graphinv worker` processes, one Neo4j.

The reference is a single-process collection of the same simulated landscape, collected once for the
module; every distributed run must leave the same graph, node for node (uid, labels, properties
except bookkeeping such as last_seen or run_id) and edge for edge ((type, start, end)), including
when a scope's lock is taken from its worker, a worker is killed, Redis restarts or Neo4j goes away.
The landscape is the generator's smallest, read with fewer regions: two accounts and several
scopes per provider. Waits (backoff, heartbeat, lock TTL) are the short ones of TEST_QUEUE.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from graphinv.db import Graph
from graphinv.ingest import install_schema
from graphinv.ports import free_port
from graphinv.settings.load import load_settings
from graphinv.settings.neo4j import Neo4jConnection
from graphinv.sim.generate import generate
from graphinv.sim.http import set_latency
from graphinv.sim.runtime import SimulatedLandscape
from tests.support.processes import graphinv_command, start_process, stop_process, wait_for_http, wait_until
from tests.support.scaleout import (
    BackgroundCycle,
    RedisServer,
    Reference,
    assert_same_graph,
    collect_reference,
    failed_scopes,
    fewer_regions,
    graph_snapshot,
    queue_stats,
    redis_server_missing,
    start_workers,
    stop_workers,
    total,
    wait_for_results,
    write_config,
)
from tests.support.tcp_proxy import PausableProxy

MISSING = redis_server_missing()
if MISSING:
    print(f"skipping the scale-out tests: {MISSING}")
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


@pytest.fixture(scope="module")
def sources_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with SimulatedLandscape(generate(scale=0.05, seed=3), tmp_path_factory.mktemp("sim")) as sim:
        yield fewer_regions(sim.config())


@pytest.fixture(scope="module")
def reference(sources_config: dict[str, Any], session_graph: Graph, neo4j_connection: Neo4jConnection,
              tmp_path_factory: pytest.TempPathFactory) -> Reference:
    return collect_reference(sources_config, session_graph, neo4j_connection.uri, tmp_path_factory.mktemp("ref"))


@pytest.fixture
def redis_srv(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def latency() -> Iterator[None]:
    """Tests that set simulator latency get it reset, whatever happens."""
    yield
    set_latency(0.0)


def _config(tmp_path: Path, sources_config: dict[str, Any], neo4j_uri: str, redis_url: str, **queue: Any) -> Any:
    path = write_config(tmp_path / "graphinv.yaml", sources_config, neo4j_uri, redis_url, **queue)
    return path, load_settings(path, env={})


def _running_scopes(graph: Graph, owner: str | None = None) -> list[str]:
    """Scopes a worker (any, or `owner`) is in the middle of reading."""
    rows = graph.run_read("MATCH (c:Collection {status: 'running'}) WHERE $owner IS NULL OR c.owner = $owner "
                          "RETURN c.uid AS key", {"owner": owner})
    return [row["key"] for row in rows]


def _complete_scopes(graph: Graph) -> int:
    rows = graph.run_read("MATCH (c:Collection {status: 'complete'}) RETURN count(c) AS n")
    return int(rows[0]["n"])


def _worker_of(graph: Graph, key: str) -> dict[str, Any]:
    rows = graph.run_read("MATCH (c:Collection {uid: $key}) RETURN c.status AS status, c.owner AS owner", {"key": key})
    return rows[0]


def test_four_workers_build_the_same_graph_as_one_process(
        graph: Graph, sources_config: dict[str, Any], reference: Reference, redis_srv: RedisServer,
        neo4j_connection: Neo4jConnection, tmp_path: Path, latency: None) -> None:
    """Also: a scope whose lock is taken from its worker mid-read (it expired, another worker holds
    it) is abandoned without a sweep and goes back on the queue without using up a retry."""
    path, cfg = _config(tmp_path, sources_config, neo4j_connection.uri, redis_srv.url, max_retries=1)
    install_schema(graph)
    set_latency(0.5)  # scopes take long enough to be caught in the middle; off once caught
    workers = start_workers(4, path, tmp_path / "logs", threads=2)
    client = redis.Redis.from_url(redis_srv.url)
    try:
        with BackgroundCycle(cfg, graph) as cycle:
            # Some scopes done first: the first ones also wait for Neo4j to plan the statements after
            # their last lock check, which is not the moment this is about.
            wait_until(lambda: _complete_scopes(graph) >= 3 and len(_running_scopes(graph)) >= 2, 300,
                       "scopes done and scopes being read", workers, interval=0.05)
            # Another party holds the locks of the scopes under way now (as after an expiry); it lets go
            # after 1.5 s. Every one of them: a scope already past its last lock check (writing, about
            # to say `complete`) still looks `running`, and one caught so would prove nothing.
            stolen = [key for key in _running_scopes(graph)
                      if client.set(f"graphinv:lock:{key}", "another-worker", xx=True, px=1500)]
            assert stolen
            set_latency(0.0)
            outcomes = cycle.finish()
    finally:
        stop_workers(workers)
        client.close()
    assert failed_scopes(outcomes) == reference.failed, [w.describe() for w in workers]
    assert_same_graph(reference, graph)
    pids = {str(w.popen.pid) for w in workers}
    owners = {row["owner"] for row in graph.run_read("MATCH (c:Collection) RETURN DISTINCT c.owner AS owner")}
    writers = {owner.rsplit(":", 1)[1] for owner in owners}
    assert writers <= pids and len(writers) >= 2, f"scopes written by {writers} of workers {pids}"
    stats = queue_stats(redis_srv.url)
    # A stolen scope caught mid-read gave up, was put back and completed; the planted failing scope
    # was retried once, then dead-lettered; every other scope completed exactly once.
    assert total(stats, "lock_lost") >= 1, (stolen, stats)
    assert all(_worker_of(graph, key)["status"] == "complete" for key in stolen if key not in reference.failed)
    assert total(stats, "dead") == stats.get("dead:gardener") == len(reference.failed), stats
    assert total(stats, "complete") == reference.scopes - len(reference.failed), stats


@pytest.mark.slow
def test_a_worker_killed_mid_scope_is_retried_elsewhere_and_nothing_is_lost(
        graph: Graph, sources_config: dict[str, Any], reference: Reference, redis_srv: RedisServer,
        neo4j_connection: Neo4jConnection, tmp_path: Path, latency: None) -> None:
    # A dead worker's lock expires after lock_ttl; its message is back on the queue after heartbeat_timeout.
    path, cfg = _config(tmp_path, sources_config, neo4j_connection.uri, redis_srv.url, max_retries=8,
                        lock_ttl="3s")
    install_schema(graph)
    set_latency(0.5)
    workers = start_workers(3, path, tmp_path / "logs", threads=2)
    victim = workers[0]
    owner = f"{socket.gethostname()}:{victim.popen.pid}"
    try:
        with BackgroundCycle(cfg, graph) as cycle:
            wait_until(lambda: bool(_running_scopes(graph, owner)), 300,
                       "the victim worker to be in the middle of a scope", workers, interval=0.05)
            half_read = _running_scopes(graph, owner)
            os.kill(victim.popen.pid, signal.SIGKILL)
            victim.popen.wait(30)
            set_latency(0.0)
            outcomes = cycle.finish()
    finally:
        stop_workers(workers[1:])
    assert failed_scopes(outcomes) == reference.failed
    assert_same_graph(reference, graph)
    for key in half_read:  # read again, completely, by a surviving worker
        row = _worker_of(graph, key)
        if key not in reference.failed:
            assert row["status"] == "complete" and row["owner"] != owner, (key, row)


def test_redis_restarted_then_neo4j_away_mid_run_the_workers_recover_and_the_cycle_completes(
        graph: Graph, sources_config: dict[str, Any], reference: Reference, redis_srv: RedisServer,
        neo4j_connection: Neo4jConnection, tmp_path: Path) -> None:
    """One cycle, two faults. Redis restarts: the workers reconnect. Then Neo4j is away three times
    as long as a worker retries a transaction (queue.neo4j_retry): the scopes being written fail,
    sweep nothing, and the queue retries them with backoff until it is back."""
    bolt_port = int(neo4j_connection.uri.rsplit(":", 1)[1])
    proxy = PausableProxy(bolt_port).start()
    path, cfg = _config(tmp_path, sources_config, f"bolt://127.0.0.1:{proxy.port}", redis_srv.url,
                        max_retries=20, neo4j_retry="2s")
    install_schema(graph)
    workers = start_workers(2, path, tmp_path / "logs", threads=4)
    try:
        with BackgroundCycle(cfg, graph) as cycle:
            wait_for_results(redis_srv.url, 5, workers)
            redis_srv.restart(down_seconds=3.0)
            wait_for_results(redis_srv.url, 12, workers)
            proxy.stop()
            time.sleep(6)
            proxy.start()
            outcomes = cycle.finish()
        assert all(w.alive() for w in workers), [w.describe() for w in workers]
    finally:
        stop_workers(workers)
        proxy.stop()
    assert failed_scopes(outcomes) == reference.failed, [w.describe() for w in workers]
    assert_same_graph(reference, graph)
    stats = queue_stats(redis_srv.url)
    assert total(stats, "retries") > len(reference.failed), f"no scope was retried while Neo4j was away: {stats}"


def test_scheduler_start_distributed_enqueues_and_workers_collect(
        graph: Graph, sources_config: dict[str, Any], reference: Reference, redis_srv: RedisServer,
        neo4j_connection: Neo4jConnection, tmp_path: Path) -> None:
    """The shipped commands: `graphinv scheduler start --distributed` and two `graphinv worker`s."""
    path, cfg = _config(tmp_path, sources_config, neo4j_connection.uri, redis_srv.url, max_retries=1)
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
