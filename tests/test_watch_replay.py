"""A watch stream that breaks with an error resumes after the last event received: nothing twice, nothing lost.

The simulator breaks the stream at a chosen point (`GardenerAPI.break_stream_after`: N whole events,
half of the next one's line, no closing chunk), so the real kubernetes client always raises and has
always received exactly N events: no timing decides whether the break is an error or a clean end.
Real HTTP on 127.0.0.1, the real kubernetes client, the real Neo4j.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config, watch
from urllib3.exceptions import ProtocolError

from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema
from graphinv.sim.churn import Churn
from graphinv.sim.gardener_api import MACHINES, GardenerAPIOptions, GardenerSim, WatchRequest
from graphinv.watch.gardener import GardenerWatches
from graphinv.watch.settings import WatchSettings
from graphinv.watch.stream import Change, ResourceWatch
from tests.support.watching import aws_landscape, wait_for

SEED = "aws-1"
SHOOT = "shoot--core--s1-1"


@pytest.fixture
def gardener(tmp_path: Path) -> Iterator[GardenerSim]:
    # No bookmark within these seconds: the last thing a broken stream delivered is an event, so the
    # resourceVersion to resume from is that event's.
    sim = GardenerSim(aws_landscape(seeds=1), tmp_path, options=GardenerAPIOptions(bookmark_interval=120),
                      static_seed_kubeconfigs=True)
    sim.start()
    yield sim
    sim.stop()


def machine_watch_requests(sim: GardenerSim) -> list[WatchRequest]:
    return [r for r in list(sim.api.watch_requests) if r.cluster == SEED and r.plural == MACHINES.plural]


def test_the_planned_break_always_makes_the_kubernetes_client_raise(gardener: GardenerSim) -> None:
    api = gardener.api
    churn = Churn(api, None, seed=11)
    seed_client = config.new_client_from_config(config_file=str(gardener.seed_kubeconfigs[SEED]))
    try:
        objects = client.CustomObjectsApi(seed_client)
        for delivered in (0, 1, 4):
            since = api.resource_version
            api.break_stream_after(SEED, MACHINES.plural, delivered)
            for _ in range(delivered + 2):
                churn.create_machine(SHOOT, launch_vm=False)
            received: list[str] = []
            with pytest.raises(ProtocolError):
                for event in watch.Watch().stream(objects.list_cluster_custom_object, MACHINES.group, MACHINES.version,
                                                  MACHINES.plural, resource_version=str(since), timeout_seconds=30,
                                                  _request_timeout=(5, 30)):
                    received.append(event["raw_object"]["metadata"]["resourceVersion"])
            made = [str(e.rv) for e in api.collection(SEED, MACHINES).events if e.rv > since]
            assert received == made[:delivered]
    finally:
        seed_client.close()


def test_a_stream_broken_by_an_error_resumes_after_the_last_event_and_applies_each_once(
        graph: Graph, gardener: GardenerSim) -> None:
    install_schema(graph)
    api = gardener.api
    settings = WatchSettings.model_validate({"batch_size": 1, "backoff": {"initial": "50ms", "max": "200ms"}})
    watches = GardenerWatches(gardener.source_config(), Ingest(graph), settings).start()
    try:
        wait_for(lambda: f"{SEED}/Machine" in watches.watches, 60, "the Machine watch")
        machine_watch = watches.get(f"{SEED}/Machine")
        wait_for(lambda: machine_watch.status.connected and len(machine_watch_requests(gardener)) == 1, 60,
                 "the Machine watch to list and stream")
        applied: list[Change] = []

        def remember(_watch: ResourceWatch, changes: list[Change], _committed: float) -> None:
            applied.extend(c for c in changes if not c.initial)

        machine_watch.listeners.append(remember)
        restarts = machine_watch.status.restarts
        since = api.resource_version
        delivered = 3
        api.break_stream_after(SEED, MACHINES.plural, delivered)
        churn = Churn(api, None, seed=7)
        # Two more than the broken stream delivers: they exist before the break but come only on the reconnect.
        for _ in range(delivered + 2):
            churn.create_machine(SHOOT, launch_vm=False)
        before_break = [e.rv for e in api.collection(SEED, MACHINES).events if e.rv > since]
        wait_for(lambda: len(machine_watch_requests(gardener)) >= 2, 60, "the watch to reconnect")
        assert machine_watch.status.restarts > restarts
        assert "ProtocolError" in str(machine_watch.status.last_error)  # an error, not a clean end
        churn.create_machine(SHOOT, launch_vm=False)
        churn.delete_machine(SEED, sorted(name for seed, name in churn.machines if seed == SEED)[0])
        expected = [e.rv for e in api.collection(SEED, MACHINES).events if e.rv > since]
        assert len(expected) == delivered + 5  # 5 ADDED, then MODIFIED (Terminating) and DELETED

        def rv(change: Change) -> int:
            return int(change.resource_version or 0)

        wait_for(lambda: applied and rv(applied[-1]) >= expected[-1], 60, "every change to be applied")
        assert machine_watch.drain(30)
        twice = {version: n for version, n in Counter(rv(c) for c in applied).items() if n > 1}
        assert twice == {}, f"events applied more than once (resourceVersion: times): {twice}"
        assert [rv(c) for c in applied] == expected
        requests = machine_watch_requests(gardener)
        assert len(requests) == 2, requests  # one break, one reconnect
        assert int(requests[0].resource_version) < before_break[0]
        assert requests[1].resource_version == str(before_break[delivered - 1])  # the last one received
        in_graph = {r["name"] for r in graph.run_read("MATCH (m:Machine {seed_name: $seed}) RETURN m.name AS name",
                                                     {"seed": SEED})}
        assert in_graph == {name for namespace, name in api.names(SEED, MACHINES) if namespace.startswith("shoot--")}
    finally:
        watches.stop()
