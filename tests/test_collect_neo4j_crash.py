"""Neo4j killed in the middle of a collection: the run ends promptly and says so, nothing is swept,
and once Neo4j is back the next collection completes and no scope is left `running`.

The test starts its own Neo4j (SIGKILL would take the shared one away from every other test).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.scope import Scope
from graphinv.collect import START_WAIT_SECONDS, CollectionSummary, run_tasks
from graphinv.commands.collect import collect_into
from graphinv.config import Neo4jConnection, settings_from_mapping
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema
from graphinv.neo4j_server import LocalNeo4j, LocalNeo4jSettings
from graphinv.ports import free_port
from graphinv.sim.generate import generate
from graphinv.sim.runtime import SimulatedLandscape
from graphinv.sources import plan_sources
from tests.support.latency import simulator_latency


@pytest.fixture(scope="module")
def crashable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNeo4j]:
    server = LocalNeo4j(LocalNeo4jSettings(
        home=tmp_path_factory.mktemp("crash-neo4j"), bolt_port=free_port(), http_port=free_port(),
        heap="512m", pagecache="128m", start_timeout=900))  # recovery after SIGKILL on a busy machine
    server.start()
    yield server
    server.stop()


def _kill(server: LocalNeo4j) -> None:
    pid = server.status().pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)  # our child: reap it so the pid is really gone


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_neo4j_killed_mid_collection_then_restarted(crashable: LocalNeo4j, tmp_path: Path) -> None:
    landscape = generate(scale=0.05, seed=7)
    with SimulatedLandscape(landscape, tmp_path / "sim") as sim:
        cfg = settings_from_mapping(sim.config(), env={})
        tasks = plan_sources(cfg.sources, [])
        graph = Graph(Neo4jConnection(uri=crashable.bolt_uri), max_retry_seconds=3)
        try:
            install_schema(graph)
            finished: list[str] = []
            killed = threading.Event()
            killed_at: list[float] = []

            def progress(scope: Scope, status: str, count: int) -> None:
                if status in ("complete", "failed"):
                    finished.append(scope.key)
                # Some scopes done, and a cloud scope under way: its Collection has just said `running`.
                if finished and status == "running" and scope.source != "gardener" and not killed.is_set():
                    killed.set()
                    _kill(crashable)
                    killed_at.append(time.monotonic())

            # Every answer slower than a scope's start may wait for its first write (graphinv.collect
            # START_WAIT_SECONDS), so each cloud scope is marked `running` while it still reads.
            with simulator_latency(START_WAIT_SECONDS * 1.5):
                summary: CollectionSummary = run_tasks(Ingest(graph), tasks, concurrency=4, progress=progress)
            took = time.monotonic() - killed_at[0]
        finally:
            graph.close()
        assert killed.is_set()
        assert summary.aborted and "Neo4j failed during the collection" in summary.aborted
        assert len(summary.results) == len(tasks)
        unfinished = [r for r in summary.results if r.status != "complete"]
        assert unfinished
        assert all(r.total_swept == 0 for r in unfinished)
        # Bounded after the kill: the driver's retry window (3 s here) and a reader's way to its next
        # record, not a hang. Generous, the machine is shared.
        assert took < 90, took

        crashable.start()
        with Graph(Neo4jConnection(uri=crashable.bolt_uri)) as graph:
            # Only Gardener this time: the cloud scopes the crash left `running` are not read again,
            # so they must be set failed by the recovery, not overwritten by a new read.
            again = collect_into(graph, cfg, ["gardener"], show_progress=False)
            assert not again.aborted
            assert all("403" in (r.error or "") for r in again.failed), [r.error for r in again.failed]  # planted
            running = graph.run_read("MATCH (c:Collection) WHERE c.status = 'running' RETURN c.uid AS uid")
            assert running == []
            interrupted = graph.run_read(
                "MATCH (c:Collection) WHERE c.status = 'failed' AND c.error STARTS WITH 'not finished' "
                "AND NOT c.scope STARTS WITH 'gardener:' RETURN c.scope AS scope")
            assert interrupted, "the cloud scope under way at the kill was not recorded failed"
            full = collect_into(graph, cfg, [], show_progress=False)
            assert not full.aborted
            assert not [r.error for r in full.failed if (r.error or "").startswith(("not finished", "interrupted"))]
            assert graph.run_read("MATCH (c:Collection) WHERE c.status = 'running' RETURN c.uid AS uid") == []
            assert graph.run_read("MATCH (c:Collection) WHERE c.error STARTS WITH 'not finished' "
                                  "RETURN c.uid AS uid") == []
