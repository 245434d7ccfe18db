"""docs/ownership.md section 6: every order of Machine, VM, watch and cloud read, one test per row.

The Gardener side is written the way the watch writes it (graphinv.ingest.engine.apply_changes and
confirm_complete), the cloud side the way a read writes it (a ScopeRun of AWS-mapped instances), and
the verdict is the shipped orphan report. The last test runs the whole thing against the simulator.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collectors.aws.mapping import instance_records
from collectors.gardener.mapping import machine_record, shoot_record
from collectors.records import Record
from collectors.scope import Scope
from graphinv.collect import run_tasks
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema
from graphinv.ingest.engine import apply_changes, confirm_complete, mark_owner_changed
from graphinv.orphans import OrphanFilter, orphan_report
from graphinv.sim.gardener_api import GardenerAPIOptions
from graphinv.sim.runtime import SimulatedLandscape
from graphinv.sources import plan_sources
from graphinv.watch.gardener import GardenerWatches
from graphinv.watch.settings import WatchSettings
from tests.support.watching import ACCOUNT, REGION, ZONE, aws_landscape, wait_for

SEED = "aws-1"
TECH = "shoot--core--web"
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)
SHOOTS = Scope("gardener", "garden", "global", "Shoot")
MACHINES = Scope("gardener", SEED, "global", "Machine")
INSTANCES = Scope("aws", ACCOUNT, REGION, "Instance")


def iid(short: str) -> str:
    """A well-formed EC2 instance id (providerIDs with malformed ids are not trusted, section 1)."""
    return "i-" + hashlib.sha256(short.encode()).hexdigest()[:17]


def shoot(hibernated: bool = False) -> Record:
    return shoot_record({"metadata": {"name": "web", "namespace": "garden-core"},
                         "spec": {"seedName": SEED, "region": REGION, "provider": {"type": "aws"},
                                  "hibernation": {"enabled": hibernated}},
                         "status": {"technicalID": TECH}}, {"garden-core": "core"})


def machine(name: str, instance_id: str | None) -> Record:
    spec = {"providerID": f"aws:///{ZONE}/{instance_id}"} if instance_id else {}
    return machine_record({"metadata": {"name": name, "namespace": TECH,
                                        "creationTimestamp": "2026-01-01T00:00:00Z"},
                           "spec": spec, "status": {"currentStatus": {"phase": "Running"}}}, SEED)


def vm(instance_id: str, name: str, state: str = "running", launched: datetime = LONG_AGO) -> Record:
    raw = {"InstanceId": instance_id, "InstanceType": "m5.large", "LaunchTime": launched,
           "Placement": {"AvailabilityZone": ZONE}, "State": {"Name": state},
           "Tags": [{"Key": "Name", "Value": name}, {"Key": f"kubernetes.io/cluster/{TECH}", "Value": "1"},
                    {"Key": "kubernetes.io/role/node", "Value": "1"}]}
    return instance_records(raw, ACCOUNT, REGION, set())[0]


class World:
    """A seed's machines as a watch keeps them, the garden's shoots, one AWS region's VMs."""

    def __init__(self, graph: Graph) -> None:
        install_schema(graph)
        self.graph = graph
        self.ingest = Ingest(graph)

    def read(self, scope: Scope, records: list[Record]) -> None:
        with self.ingest.scope(scope) as run:
            run.write(records)

    def cloud_read(self, *vms: Record) -> None:
        self.read(INSTANCES, list(vms))

    def watch(self, upserts: list[Record] = (), deletes: list[Record] = (),  # type: ignore[assignment]
              scope: Scope = MACHINES) -> None:
        apply_changes(self.ingest, scope, upserts, [(r.label, r.uid) for r in deletes])
        confirm_complete(self.graph, scope, datetime.now(UTC))

    def confirm(self, scope: Scope = MACHINES) -> None:
        confirm_complete(self.graph, scope, datetime.now(UTC))

    def verdict(self, instance_id: str, now: datetime | None = None,
                staleness: timedelta = timedelta(hours=6)) -> tuple[str, str] | None:
        """(verdict, reason) of the VM in the orphan report; None when it is not a finding (owned)."""
        rows = orphan_report(self.graph, OrphanFilter(provider="aws", kind="instance", max_staleness=staleness),
                             now=now)
        found = [r for r in rows if r["uid"] == instance_id]
        return (found[0]["verdict"], found[0]["reason"]) if found else None


@pytest.fixture
def world(graph: Graph) -> World:
    built = World(graph)
    built.read(SHOOTS, [shoot()])
    built.read(MACHINES, [])
    return built


def test_1_machine_without_provider_id_owns_its_vm_by_name(world: World) -> None:
    world.watch([machine("m1", None)])
    world.cloud_read(vm(iid("i-1"), "m1"))
    assert world.verdict(iid("i-1")) is None


def test_2_provider_id_set_later_keeps_it_owned(world: World) -> None:
    world.watch([machine("m1", None)])
    world.cloud_read(vm(iid("i-1"), "m1"))
    world.watch([machine("m1", iid("i-1"))])
    assert world.verdict(iid("i-1")) is None
    assert world.graph.run_read("MATCH (:Machine {name: 'm1'})-[:RUNS_ON]->(i:Instance) RETURN i.uid AS u")[0]["u"] \
        == iid("i-1")


def test_3_vm_newer_than_the_machine_side_is_unverified_until_the_machine_arrives(world: World) -> None:
    world.confirm()  # the watch last confirmed the seed ...
    world.cloud_read(vm(iid("i-3"), "m3", launched=datetime.now(UTC) + timedelta(seconds=1)))  # ... before V was born
    verdict = world.verdict(iid("i-3"))
    assert verdict is not None and verdict[0] == "unverified" and "newer" in verdict[1]
    world.watch([machine("m3", iid("i-3"))])
    assert world.verdict(iid("i-3")) is None


def test_4_leaked_vm_without_any_machine_is_an_orphan_while_the_watch_is_healthy(world: World) -> None:
    world.cloud_read(vm(iid("i-4"), "leaked"))
    world.confirm()
    assert world.verdict(iid("i-4")) == ("orphan", "no Machine runs on it")


def test_5_6_machine_deleted_before_the_cloud_read_noticed(world: World) -> None:
    m = machine("m5", iid("i-5"))
    world.watch([m])
    world.cloud_read(vm(iid("i-5"), "m5"))
    assert world.verdict(iid("i-5")) is None
    world.watch(deletes=[m])  # the VM was terminated first, but the cloud read is older
    verdict = world.verdict(iid("i-5"))
    assert verdict is not None and verdict[0] == "unverified" and "changed after the VM was last read" in verdict[1]
    world.cloud_read(vm(iid("i-5"), "m5", state="terminated"))  # row 6
    assert world.verdict(iid("i-5")) is None


def test_7_vm_still_running_after_its_machine_went_is_an_orphan(world: World) -> None:
    m = machine("m7", iid("i-7"))
    world.watch([m])
    world.cloud_read(vm(iid("i-7"), "m7"))
    world.watch(deletes=[m])
    world.cloud_read(vm(iid("i-7"), "m7"))  # a read after the deletion still sees it running
    world.confirm()
    assert world.verdict(iid("i-7")) == ("orphan", "no Machine runs on it")


def test_8_machine_swept_by_a_relist_stamps_its_vm(world: World) -> None:
    m = machine("m8", iid("i-8"))
    world.watch([m])
    world.cloud_read(vm(iid("i-8"), "m8"))
    # The re-list after a 410 no longer has m8: the watch marks what it pointed at, then sweeps.
    run = world.ingest.scope(MACHINES)
    run.write([])
    mark_owner_changed(world.graph, "Machine", [m.uid], datetime.now(UTC))
    run.complete()
    verdict = world.verdict(iid("i-8"))
    assert verdict is not None and verdict[0] == "unverified"


def test_8_a_complete_gardener_read_run_by_hand_stamps_what_its_sweep_removes(world: World) -> None:
    """`graphinv collect` of the Gardener source while watches run: its own sweep (no watch involved)
    stamps the VMs of the Machines and Shoots it removes, so a live VM never looks orphaned."""
    kept, gone = machine("m8k", iid("i-8k")), machine("m8g", iid("i-8g"))
    world.watch([kept, gone])
    world.cloud_read(vm(iid("i-8k"), "m8k"), vm(iid("i-8g"), "m8g"), vm(iid("i-8s"), "stray"))
    world.confirm()
    assert world.verdict(iid("i-8s")) == ("orphan", "no Machine runs on it")  # the cloud read settles it
    world.read(MACHINES, [kept])  # a plain complete read: m8g is swept
    verdict = world.verdict(iid("i-8g"))
    assert verdict is not None and verdict[0] == "unverified" and "changed after" in verdict[1]
    assert world.verdict(iid("i-8k")) is None
    stamped = world.graph.run_read("MATCH (i:Instance) WHERE i.owner_changed_at IS NOT NULL RETURN i.uid AS uid")
    assert [r["uid"] for r in stamped] == [iid("i-8g")]  # neither the kept Machine's VM nor the stray one
    assert world.verdict(iid("i-8s")) == ("orphan", "no Machine runs on it")
    world.cloud_read(vm(iid("i-8k"), "m8k"), vm(iid("i-8g"), "m8g"))  # a newer cloud read: a real leak
    world.confirm()
    assert world.verdict(iid("i-8g")) == ("orphan", "no Machine runs on it")
    # The shoot read the same way: the sweep of the shoot stamps its VMs through OWNS_VM.
    world.cloud_read(vm(iid("i-8k"), "m8k"))
    world.read(MACHINES, [])
    world.read(SHOOTS, [])
    verdict = world.verdict(iid("i-8k"))
    assert verdict is not None and verdict[0] == "unverified" and "changed after" in verdict[1]


def test_the_sweep_of_a_cloud_read_stamps_nothing(world: World) -> None:
    world.watch([machine("m8c", iid("i-8c"))])
    world.cloud_read(vm(iid("i-8c"), "m8c"), vm(iid("i-8d"), "gone"))
    world.cloud_read(vm(iid("i-8c"), "m8c"))  # sweeps i-8d
    rows = world.graph.run_read("MATCH (n) WHERE n.owner_changed_at IS NOT NULL RETURN count(n) AS n")
    assert rows == [{"n": 0}]


def test_9_provider_id_moving_to_another_vm(world: World) -> None:
    world.watch([machine("m9", iid("i-9a"))])
    world.cloud_read(vm(iid("i-9a"), "m9"), vm(iid("i-9b"), "m9-new"))
    world.watch([machine("m9", iid("i-9b"))])
    verdict = world.verdict(iid("i-9a"))
    assert verdict is not None and verdict[0] == "unverified"
    assert world.verdict(iid("i-9b")) is None
    world.cloud_read(vm(iid("i-9a"), "m9"), vm(iid("i-9b"), "m9-new"))
    world.confirm()
    assert world.verdict(iid("i-9a")) == ("orphan", "no Machine runs on it")


def test_10_shoot_deleted_with_an_older_cloud_read(world: World) -> None:
    m = machine("m10", iid("i-10"))
    world.watch([m])
    world.cloud_read(vm(iid("i-10"), "m10"))
    world.watch(deletes=[m])
    world.watch(deletes=[shoot()], scope=SHOOTS)
    verdict = world.verdict(iid("i-10"))
    assert verdict is not None and verdict[0] == "unverified" and "changed after" in verdict[1]
    world.cloud_read(vm(iid("i-10"), "m10"))  # still running after its shoot is gone: a leak
    world.confirm(SHOOTS)
    assert world.verdict(iid("i-10")) == ("orphan", "its shoot no longer exists")


def test_11_hibernated_shoot(world: World) -> None:
    m = machine("m11", iid("i-11"))
    world.watch([m])
    world.cloud_read(vm(iid("i-11"), "m11"))
    world.watch([shoot(hibernated=True)], scope=SHOOTS)
    world.watch(deletes=[m])
    world.cloud_read(vm(iid("i-11"), "m11"))
    verdict = world.verdict(iid("i-11"))
    assert verdict is not None and verdict[0] == "unverified" and "hibernated" in verdict[1]


def test_12_a_watch_that_stays_down_makes_its_verdicts_unverified_after_the_window(world: World) -> None:
    world.cloud_read(vm(iid("i-12"), "leaked"))
    world.confirm()
    world.confirm(SHOOTS)
    assert world.verdict(iid("i-12")) == ("orphan", "no Machine runs on it")
    later = datetime.now(UTC) + timedelta(hours=1)  # an hour without a word from the seed's watch
    verdict = world.verdict(iid("i-12"), now=later, staleness=timedelta(minutes=30))
    assert verdict is not None and verdict[0] == "unverified"


# -- the whole thing: the simulator, the watches, the AWS collector -----------------------------------
@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatedLandscape]:
    with SimulatedLandscape(aws_landscape(stray_vms=1), tmp_path,
                            gardener_options=GardenerAPIOptions(bookmark_interval=0.2)) as running:
        yield running


def stamps(graph: Graph) -> dict[str, datetime]:
    rows = graph.run_read("MATCH (c:Collection) RETURN c.uid AS uid, c.last_complete_started AS t")
    return {r["uid"]: r["t"].to_native() for r in rows if r["t"] is not None}


def strays(rows: list[dict[str, Any]]) -> dict[str, str]:
    return {r["name"]: r["verdict"] for r in rows if "-stray-" in (r["name"] or "")}


def test_a_seed_that_becomes_forbidden_makes_only_its_shoots_vms_unverified(graph: Graph,
                                                                          sim: SimulatedLandscape) -> None:
    assert sim.gardener is not None
    install_schema(graph)
    settings = WatchSettings.model_validate({"batch_latency": "20ms", "backoff": {"initial": "50ms", "max": "300ms"}})
    watches = GardenerWatches(sim.gardener.source_config(), Ingest(graph), settings).start()
    try:
        wait_for(lambda: len(watches.watches) == 6 and not watches.down(), 180, "the watches")
        run_tasks(Ingest(graph), plan_sources(sim.config(), ["aws"]))
        # One stray VM per seed carries the cluster tag of the seed's first shoot: orphans.
        assert strays(orphan_report(graph, OrphanFilter(provider="aws"))) == {
            "shoot--core--s1-1-stray-0": "orphan", "shoot--core--s2-1-stray-0": "orphan"}
        sim.gardener.api.set_seed_access("aws-1", "forbidden")
        watch = watches.get("aws-1/Machine")
        wait_for(lambda: not watch.status.connected, 90, "the aws-1 watch to go down")
        # What it received before it went down may still be on its way into the graph (a loaded
        # machine showed a confirmation landing after this point): the quiet stamp is the last one.
        assert watch.drain(60), "the aws-1 watch did not apply what it had received"
        quiet = "gardener:aws-1:global:Machine"
        down_at = stamps(graph)[quiet]

        def lagging(moment: datetime) -> list[str]:
            return sorted(k for k, t in stamps(graph).items() if k != quiet and t <= moment)

        # The cloud is read again after aws-1 went quiet (and only once the clock has passed the
        # margin: a read is stamped with the moment it started, and on a fast machine the watch is
        # seen down well within it); the healthy watches keep confirming.
        moment = down_at + timedelta(milliseconds=500)
        wait_for(lambda: datetime.now(UTC) > moment, 5, "the margin to pass")
        run_tasks(Ingest(graph), plan_sources(sim.config(), ["aws"]))
        try:
            wait_for(lambda: not lagging(moment), 90, "everything else to be newer")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; still older: {lagging(moment)}; watches down: {watches.down()}") from None
        now = min(t for k, t in stamps(graph).items() if k != quiet)
        # A staleness window that every other scope meets and the quiet seed misses.
        window = now - down_at - timedelta(milliseconds=250)
        rows = orphan_report(graph, OrphanFilter(provider="aws", max_staleness=window), now=now)
        assert strays(rows) == {"shoot--core--s1-1-stray-0": "unverified",  # aws-1's shoot
                                "shoot--core--s2-1-stray-0": "orphan"}  # aws-2's: untouched
        assert stamps(graph)[quiet] == down_at  # a watch that is down confirms nothing
        assert watches.down() == ["aws-1/Machine"]
    finally:
        watches.stop()
