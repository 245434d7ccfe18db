"""Watches of the Gardener side against the simulator: real HTTP, the real kubernetes client, real Neo4j."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema
from graphinv.sim.churn import Churn
from graphinv.sim.gardener_api import MACHINES, GardenerAPI, GardenerAPIOptions
from graphinv.sim.runtime import SimulatedLandscape
from graphinv.watch.gardener import GardenerWatches
from graphinv.watch.settings import WatchSettings
from graphinv.watch.stream import Change, ResourceWatch
from tests.support.watching import aws_landscape, wait_for

GARDEN_WATCHES = ["garden/Bastion", "garden/Project", "garden/Seed", "garden/Shoot"]


def fast_settings(**extra: Any) -> WatchSettings:
    return WatchSettings.model_validate({"batch_latency": "20ms", "backoff": {"initial": "50ms", "max": "500ms"},
                                         **extra})


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatedLandscape]:
    options = GardenerAPIOptions(bookmark_interval=0.2)
    with SimulatedLandscape(aws_landscape(stray_vms=1), tmp_path, gardener_options=options) as running:
        yield running


def gardener_api(sim: SimulatedLandscape) -> GardenerAPI:
    assert sim.gardener is not None
    return sim.gardener.api


def start_watches(graph: Graph, sim: SimulatedLandscape, settings: WatchSettings | None = None) -> GardenerWatches:
    install_schema(graph)
    assert sim.gardener is not None
    watches = GardenerWatches(sim.gardener.source_config(), Ingest(graph), settings or fast_settings()).start()
    expected = [*GARDEN_WATCHES, "aws-1/Machine", "aws-2/Machine"]
    wait_for(lambda: sorted(watches.watches) == sorted(expected) and not watches.down(), 180,
             "every watch to be connected")
    return watches


@pytest.fixture
def watches(graph: Graph, sim: SimulatedLandscape) -> Iterator[GardenerWatches]:
    running = start_watches(graph, sim)
    yield running
    running.stop()


def machines_in_graph(graph: Graph, seed: str) -> dict[str, str | None]:
    rows = graph.run_read("MATCH (m:Machine {seed_name: $seed}) RETURN m.name AS name, m.provider_id AS pid",
                          {"seed": seed})
    return {r["name"]: r["pid"] for r in rows}


def machines_in_sim(sim: SimulatedLandscape, seed: str) -> set[str]:
    return {name for namespace, name in gardener_api(sim).names(seed, MACHINES) if namespace.startswith("shoot--")}


def test_list_then_live_changes(graph: Graph, sim: SimulatedLandscape, watches: GardenerWatches) -> None:
    assert set(machines_in_graph(graph, "aws-1")) == machines_in_sim(sim, "aws-1")
    churn = Churn(gardener_api(sim), sim.clouds.get("aws"))
    seed, name = churn.create_machine("shoot--core--s1-1")
    pid = wait_for(lambda: machines_in_graph(graph, seed).get(name), 90, "the new machine with its providerID")
    assert pid is not None and pid.startswith("aws:///")
    churn.delete_machine(seed, name)
    wait_for(lambda: name not in machines_in_graph(graph, seed), 90, "the deleted machine to go")
    churn.create_shoot("shoot--core--s2-1")
    wait_for(lambda: graph.run_read("MATCH (s:Shoot) RETURN count(s) AS n")[0]["n"] == 5, 90, "the new shoot")
    status = {s["name"]: s for s in watches.statuses()}
    assert status["aws-1/Machine"]["events_applied"] >= 3  # ADDED, MODIFIED (providerID), ..., DELETED
    assert status["aws-1/Machine"]["connected"]


def test_events_in_order_and_exactly_once_across_a_reconnect(graph: Graph, sim: SimulatedLandscape) -> None:
    watches = start_watches(graph, sim, fast_settings(batch_size=1))
    try:
        api = gardener_api(sim)
        applied: list[Change] = []
        machine_watch = watches.get("aws-1/Machine")

        def remember(_watch: ResourceWatch, changes: list[Change], _committed: float) -> None:
            applied.extend(c for c in changes if not c.initial)

        machine_watch.listeners.append(remember)
        since = api.resource_version
        churn = Churn(api, sim.clouds.get("aws"), seed=3)
        for _ in range(5):
            churn.create_machine("shoot--core--s1-2")
        restarts = machine_watch.status.restarts
        # The watch may be between two streams (a stream's timeout ends it, and the client then
        # opens the next), so cut as soon as one is open: the seed's only watch is the Machine one.
        wait_for(lambda: api.break_streams("aws-1") >= 1, 30, "an open Machine stream to cut")
        for _ in range(5):
            churn.create_machine("shoot--core--s1-2")
        churn.delete_machine(*sorted(k for k in churn.machines if k[0] == "aws-1")[0])
        expected = [e.rv for e in api.collection("aws-1", MACHINES).events if e.rv > since]
        wait_for(lambda: applied and int(applied[-1].resource_version or 0) >= expected[-1], 90,
                 "every change to be applied")
        assert [int(c.resource_version or 0) for c in applied] == expected
        assert machine_watch.status.restarts > restarts
        assert set(machines_in_graph(graph, "aws-1")) == machines_in_sim(sim, "aws-1")
    finally:
        watches.stop()


def test_gone_relists_adds_what_was_missed_and_removes_what_was_deleted(graph: Graph, sim: SimulatedLandscape,
                                                                         watches: GardenerWatches) -> None:
    api = gardener_api(sim)
    churn = Churn(api, sim.clouds.get("aws"), seed=5)
    machine_watch = watches.get("aws-1/Machine")
    lists = machine_watch.status.lists
    api.set_seed_access("aws-1", "forbidden")  # cut off: reconnects get 403 while things change
    wait_for(lambda: not machine_watch.status.connected, 90, "the watch to notice")
    created = [churn.create_machine("shoot--core--s1-1")[1] for _ in range(3)]
    deleted = sorted(k for k in churn.machines if k[0] == "aws-1" and k[1] not in created)[0][1]
    churn.delete_machine("aws-1", deleted)
    api.compact("aws-1")  # the history the watch would resume from is gone: 410 on reconnect
    api.set_seed_access("aws-1", "ok")
    wait_for(lambda: machine_watch.status.lists > lists and machine_watch.status.connected, 120, "a re-list")
    in_graph = machines_in_graph(graph, "aws-1")
    assert set(created) <= set(in_graph)
    assert deleted not in in_graph
    assert set(in_graph) == machines_in_sim(sim, "aws-1")
    assert machine_watch.status.last_error in ("410 Gone",) or machine_watch.status.lists > lists


def test_token_expiring_mid_watch_is_refreshed(graph: Graph, sim: SimulatedLandscape,
                                               watches: GardenerWatches) -> None:
    api = gardener_api(sim)
    before = api.viewer_requests["aws-1"]
    churn = Churn(api, sim.clouds.get("aws"))
    assert churn.expire_tokens("aws-1") == "aws-1"
    seed, name = churn.create_machine("shoot--core--s1-1")
    wait_for(lambda: machines_in_graph(graph, seed).get(name), 90, "the machine made after the expiry")
    assert api.viewer_requests["aws-1"] > before  # a new viewer kubeconfig was fetched
    assert api.viewer_requests["aws-2"] == 1  # the other seed kept its own


def test_resync_is_a_complete_read_and_a_failed_list_deletes_nothing(graph: Graph, sim: SimulatedLandscape,
                                                                    watches: GardenerWatches) -> None:
    api = gardener_api(sim)
    machine_watch = watches.get("aws-2/Machine")
    count = len(machines_in_graph(graph, "aws-2"))
    api.set_seed_access("aws-2", "forbidden")
    machine_watch.request_resync()
    wait_for(lambda: machine_watch.status.restarts > 0 and not machine_watch.status.connected, 90, "a failed list")
    assert len(machines_in_graph(graph, "aws-2")) == count  # nothing swept

    def unwatched() -> bool:  # the watch says so in the graph just after its status says it is down
        rows = graph.run_read("MATCH (c:Collection {uid: 'gardener:aws-2:global:Machine'}) RETURN c.watched AS w")
        return rows[0]["w"] is False

    wait_for(unwatched, 30, "the scope to be marked unwatched")
    api.set_seed_access("aws-2", "ok")
    wait_for(lambda: machine_watch.status.connected, 90, "the watch to come back")
    assert watches.down() == []


def test_collection_freshness_follows_a_healthy_watch(graph: Graph, sim: SimulatedLandscape,
                                                      watches: GardenerWatches) -> None:
    def stamp(scope: str) -> Any:
        rows = graph.run_read("MATCH (c:Collection {uid: $k}) RETURN c.last_complete_started AS t", {"k": scope})
        return rows[0]["t"].to_native()

    first = stamp("gardener:aws-1:global:Machine")
    # Bookmarks on an idle stream move it forward without any change.
    wait_for(lambda: stamp("gardener:aws-1:global:Machine") > first + timedelta(milliseconds=300), 90,
             "freshness to advance on bookmarks")


def test_targeted_cloud_reread_once_per_debounced_burst(graph: Graph, sim: SimulatedLandscape) -> None:
    from graphinv.collect import run_tasks
    from graphinv.sources import plan_sources
    from graphinv.watch.aws_refresh import readers_for
    from graphinv.watch.refresh import TargetedRefresh
    from graphinv.watch.settings import CloudRefreshSettings

    install_schema(graph)
    run_tasks(Ingest(graph), plan_sources(sim.config(), ["aws"]))
    refresh = TargetedRefresh(Ingest(graph), readers_for(sim.config()["sources"]),
                              CloudRefreshSettings(debounce=timedelta(seconds=3))).start()
    assert sim.gardener is not None
    watches = GardenerWatches(sim.gardener.source_config(), Ingest(graph), fast_settings(batch_size=1),
                              listeners=[refresh])
    try:
        watches.start()
        wait_for(lambda: len(watches.watches) == 6 and not watches.down(), 180, "the watches")
        churn = Churn(gardener_api(sim), sim.clouds["aws"])
        seed, name = churn.create_machine("shoot--core--s1-1")  # ADDED (no providerID), MODIFIED (providerID)
        vm = churn.machines[(seed, name)].vm
        assert vm is not None
        churn.delete_machine(seed, name)  # MODIFIED (Terminating), VM terminated, DELETED: one burst
        wait_for(lambda: refresh.stats.reads >= 1 and refresh.pending() == 0, 120, "the re-read")
        assert [t.instance_uid for t in refresh.done] == [vm.instance.id], refresh.stats
        assert refresh.stats.reads == 1 and refresh.stats.failed == 0
        rows = graph.run_read("MATCH (i:Instance {uid: $uid}) RETURN i.status AS status", {"uid": vm.instance.id})
        assert rows == [{"status": "terminated"}]  # seen within seconds, not at the next full read
        assert refresh.stats.scheduled == 2  # the providerID event and the deletion, folded into one read
    finally:
        watches.stop()
        refresh.stop()


def test_scheduler_runs_watches_instead_of_gardener_reads_and_readyz_reports_watches_down(
        graph: Graph, sim: SimulatedLandscape) -> None:
    import dataclasses
    import urllib.error
    import urllib.request

    from graphinv.scheduler.service import SchedulerService, default_planner
    from graphinv.scheduler.settings import MetricsEndpoint
    from graphinv.watch.service import WatchService
    from tests.support.scheduling import fast, job

    settings = dataclasses.replace(fast(job("gardener", 3600), job("aws", 3600)),
                                   metrics=MetricsEndpoint(enabled=True, host="127.0.0.1", port=0))
    service = SchedulerService(graph, settings, default_planner(sim.config()["sources"]))
    service.use_watches(WatchService(graph, sim.config()["sources"], fast_settings(), service.metrics))
    assert sorted(service.collect_jobs) == ["collect:aws"]  # the watches keep the Gardener side

    def readyz() -> tuple[int, str]:
        assert service.status is not None
        try:
            with urllib.request.urlopen(f"{service.status.url}/readyz", timeout=30) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    service.start()
    try:
        wait_for(lambda: readyz()[0] == 200, 180, "ready with every watch up")
        gardener_api(sim).set_seed_access("aws-2", "forbidden")
        def refused() -> str | None:
            code, why = readyz()
            return why if code == 503 else None

        assert "watches down: aws-2/Machine" in str(wait_for(refused, 90, "readyz to report the watch"))
        metrics = service.metrics.exposition().decode()
        assert 'graphinv_watch_connected{watch="aws-2/Machine"} 0.0' in metrics
        assert 'graphinv_watch_connected{watch="aws-1/Machine"} 1.0' in metrics
        assert 'graphinv_watch_restarts_total{watch="aws-2/Machine"}' in metrics
        assert "graphinv_watch_last_event_age_seconds" in metrics
    finally:
        service.shutdown(60)
