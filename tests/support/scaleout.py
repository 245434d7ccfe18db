"""Scale-out test parts: a real redis-server on 127.0.0.1, `graphinv worker` processes, graph snapshots.

`redis-server` is Debian's (`./dev test` installs it); tests skip with the reason when it is missing.
It runs with an append-only file synced on every write, as a production queue must (a restarted
Redis must still hold the queued scope tasks).
"""

from __future__ import annotations

import copy
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import yaml

from graphinv.db import Graph
from graphinv.ports import free_port
from tests.support.processes import (
    Process,
    graphinv_command,
    start_process,
    stop_process,
    wait_for_output,
    wait_until,
)

# Properties that say when or by which run a node was written, not what it is.
BOOKKEEPING = frozenset({"last_seen", "first_seen", "run_id", "owner", "heartbeat", "started", "finished", "created_at",
                         "updated_at", "last_complete_started", "last_complete_finished", "owner_changed_at",
                         "written", "swept", "recorded_at", "at", "observed", "observed_at", "pending_since",
                         # when an edge was lost, and which one when several went in one publication
                         "lost_edge_at", "lost_edge"})
# Shared value nodes that several scopes write (every account of a region offers the same machine
# types): their `scope` names whichever scope wrote last, which is write order, not content.
SHARED_LABELS = frozenset({"MachineType", "Region", "CloudAccount"})
# Change records of links ("linked"/"unlinked") say from which end a link arrived first: write order
# again. Appearances are compared; link changes are not.
ORDER_CHANGES = ("linked", "unlinked")


def redis_server_missing() -> str | None:
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (apt-get install -y redis-server; `./dev test` does it)"
    return None


class RedisServer:
    """Debian's redis-server on a free loopback port, persistent (AOF, fsync always) so a restart keeps the queue."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.popen: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        log = (self.workdir / "redis.log").open("ab")
        self.popen = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.workdir),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "yes"],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            self.popen.wait(20)
        self.popen = None

    def restart(self, down_seconds: float = 2.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


@contextmanager
def redis_server(workdir: Path) -> Iterator[RedisServer]:
    server = RedisServer(workdir).start()
    try:
        yield server
    finally:
        server.stop()


# Short waits for tests: a retry after 200 ms, a dead worker's messages back on the queue after 5 s.
TEST_QUEUE = {"min_backoff": "200ms", "max_backoff": "1s", "lock_ttl": "10s", "heartbeat_timeout": "5s",
              "busy_delay": "300ms", "cycle_timeout": "15m"}


def write_config(path: Path, sources_config: Mapping[str, Any], neo4j_uri: str, redis_url: str,
                 **queue: Any) -> Path:
    body = {**sources_config, "neo4j": {"uri": neo4j_uri}, "queue": {"url": redis_url, **TEST_QUEUE, **queue}}
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    path.chmod(0o600)
    return path


def fewer_regions(sources_config: Mapping[str, Any]) -> dict[str, Any]:
    """The smallest landscape that still has two accounts and several scopes per provider: AWS
    accounts read two regions, OpenStack clouds one (the generator's smallest landscape has more)."""
    body = copy.deepcopy(dict(sources_config))
    sources = body["sources"]
    for account in sources["aws"]["accounts"]:
        account["regions"] = account["regions"][:2]
    for cloud in sources["openstack"]["clouds"]:
        cloud["regions"] = cloud["regions"][:1]
    return body


@dataclass
class Reference:
    """The graph a single process collects from the landscape: what every distributed run must leave."""

    snapshot: tuple[Nodes, Edges]
    failed: set[str]  # scopes the landscape makes fail (a seed that answers 403)
    scopes: int


def collect_reference(sources_config: Mapping[str, Any], graph: Graph, neo4j_uri: str, workdir: Path) -> Reference:
    """One process, `graphinv collect` (the in-process runner), into an empty graph. A process of its
    own, as the workers are: in the test process it would share the GIL with the simulators."""
    from graphinv.commands.collect import EXIT_SCOPES_FAILED
    from graphinv.ingest import install_schema
    from tests.support.graph import wipe

    wipe(graph)
    install_schema(graph)
    config = write_config(workdir / "reference.yaml", sources_config, neo4j_uri, "redis://127.0.0.1:1/0")
    collect = start_process("reference", graphinv_command("collect", "--quiet"), workdir / "logs",
                            env={"GRAPHINV_CONFIG": str(config)})
    code = collect.popen.wait(900)
    assert code == EXIT_SCOPES_FAILED, collect.describe()  # the planted failing scope, and only it (below)
    snapshot = graph_snapshot(graph)
    assert len(snapshot[0]) > 100 and len(snapshot[1]) > 100
    runs = graph.run_read("MATCH (c:Collection) RETURN c.uid AS key, c.status AS status")
    failed = {row["key"] for row in runs if row["status"] != "complete"}
    assert len(failed) == 1, failed
    return Reference(snapshot, failed, len(runs))


def assert_same_graph(reference: Reference, graph: Graph) -> None:
    diffs = differences(reference.snapshot, graph_snapshot(graph), limit=40)
    assert not diffs, "\n".join(diffs)


def failed_scopes(outcomes: Mapping[str, Any]) -> set[str]:
    return {key for outcome in outcomes.values() for key in outcome.failed_scopes}


def queue_stats(redis_url: str) -> dict[str, int]:
    """graphinv's counters in Redis: complete:<source>, retries:<source>, dead:<source>, lock_lost:..."""
    client = redis.Redis.from_url(redis_url)
    try:
        rows: dict[bytes, bytes] = client.hgetall("graphinv:stats")  # type: ignore[assignment]
    finally:
        client.close()
    return {k.decode(): int(v) for k, v in rows.items()}


def total(stats: Mapping[str, int], what: str) -> int:
    return sum(v for k, v in stats.items() if k.startswith(f"{what}:"))


def wait_for_results(redis_url: str, count: int, watched: list[Process], timeout: float = 300) -> None:
    """Until `count` scope results are recorded in Redis (the cycle is under way)."""
    client = redis.Redis.from_url(redis_url)

    def recorded() -> int:
        return sum(int(client.hlen(key)) for key in client.scan_iter("graphinv:cycle:*"))

    try:
        wait_until(lambda: recorded() >= count, timeout, f"{count} scope results", watched, interval=0.1)
    finally:
        client.close()


class BackgroundCycle:
    """`distributed_cycle` on a thread, so a test can break things while it runs. Leaving the block
    because of an error stops the cycle's waiting rather than waiting for the cycle timeout."""

    def __init__(self, settings: Any, graph: Graph) -> None:
        self.outcomes: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=lambda: self.outcomes.update(distributed_cycle(settings, graph, self._stop)),
            name="distributed-cycle", daemon=True)

    def __enter__(self) -> BackgroundCycle:
        self._thread.start()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:
            self._stop.set()
        self._thread.join(600)

    def finish(self, timeout: float = 600) -> dict[str, Any]:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the distributed cycle did not finish"
        return self.outcomes


def start_workers(count: int, config: Path, logs: Path, threads: int = 4) -> list[Process]:
    workers = [start_process(f"worker-{n}", graphinv_command("worker", "--threads", str(threads)), logs,
                             env={"GRAPHINV_CONFIG": str(config)}) for n in range(count)]
    for process in workers:
        wait_for_output(process, '"event": "started"', 120)
    return workers


def stop_workers(workers: list[Process], timeout: float = 60) -> None:
    """SIGTERM to every worker at once (as an orchestrator scales down), then wait for each."""
    for process in workers:
        if process.alive():
            process.popen.send_signal(signal.SIGTERM)
    for process in workers:
        stop_process(process, timeout=timeout)


Nodes = dict[str, tuple[tuple[str, ...], tuple[tuple[str, Any], ...]]]
Edges = Counter[tuple[str, str, str]]

# Change records get a random uid each; they are identified by what they say.
def _identity(n: str) -> str:
    return (f"CASE WHEN {n}:Change THEN 'change:' + {n}.kind + ':' + {n}.node_label + ':' + {n}.node_uid + ':' "
            f"+ coalesce({n}.rel, '') + ':' + coalesce({n}.other_label, '') + ':' + coalesce({n}.other_uid, '') "
            f"ELSE {n}.uid END")


def graph_snapshot(graph: Graph) -> tuple[Nodes, Edges]:
    """Nodes by identity -> (labels, properties without bookkeeping); edges as (type, start, end)."""
    nodes: Nodes = {}
    skip = "WHERE NOT (n:Change AND n.kind IN $order)"
    for row in graph.run_read(f"MATCH (n) {skip} RETURN {_identity('n')} AS id, labels(n) AS labels, "
                              "properties(n) AS props", {"order": ORDER_CHANGES}):
        # A shared node's Change names the scope that wrote the node first: write order too.
        shared = not SHARED_LABELS.isdisjoint(row["labels"]) or row["props"].get("node_label") in SHARED_LABELS
        props = tuple(sorted((k, v) for k, v in row["props"].items()
                             if k not in BOOKKEEPING and k != "uid" and not (shared and k == "scope")))
        assert row["id"] not in nodes, f"two nodes are {row['id']}"
        nodes[row["id"]] = (tuple(sorted(row["labels"])), props)
    edges: Edges = Counter(
        (r["type"], r["start"], r["end"]) for r in graph.run_read(
            f"MATCH (a)-[r]->(b) WHERE NOT (a:Change AND a.kind IN $order) "
            f"RETURN type(r) AS type, {_identity('a')} AS start, {_identity('b')} AS end", {"order": ORDER_CHANGES}))
    return nodes, edges


def differences(expected: tuple[Nodes, Edges], actual: tuple[Nodes, Edges], limit: int = 10) -> list[str]:
    """What differs, node by node and edge by edge (empty: the same graph)."""
    (want_nodes, want_edges), (got_nodes, got_edges) = expected, actual
    out = [f"missing node {k}" for k in sorted(set(want_nodes) - set(got_nodes))][:limit]
    out += [f"extra node {k}" for k in sorted(set(got_nodes) - set(want_nodes))][:limit]
    out += [f"node {k} differs: {want_nodes[k]} != {got_nodes[k]}"
            for k in sorted(set(want_nodes) & set(got_nodes)) if want_nodes[k] != got_nodes[k]][:limit]
    out += [f"missing edge {e} x{n}" for e, n in sorted((want_edges - got_edges).items())][:limit]
    out += [f"extra edge {e} x{n}" for e, n in sorted((got_edges - want_edges).items())][:limit]
    return out


def distributed_cycle(settings: Any, graph: Graph, stop: threading.Event | None = None) -> dict[str, Any]:
    """One collection of every configured source through the queue, as `graphinv scheduler start
    --distributed` runs it (a DistributedCollectJob per source, all at once); source -> JobOutcome."""
    from graphinv.distributed.job import DistributedCollectJob
    from graphinv.distributed.tasks import ScopeQueue
    from graphinv.metrics import Metrics
    from graphinv.scheduler.backoff import Backoff
    from graphinv.scheduler.collect_job import CollectJob
    from graphinv.scheduler.service import default_planner
    from tests.support.scheduling import job

    queue = ScopeQueue(settings.queue)
    stop = stop or threading.Event()
    outcomes: dict[str, Any] = {}
    try:
        jobs = [DistributedCollectJob.replacing(
            CollectJob(job(source, 3600), graph, default_planner(settings.sources), Backoff(attempts=1), 8,
                       Metrics(), stop), queue) for source in settings.configured_sources]
        threads = [threading.Thread(target=lambda j=j: outcomes.__setitem__(j.spec.source, j())) for j in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        queue.close()
    return outcomes
