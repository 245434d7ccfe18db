"""The ingest engine on the real server: idempotence, links in any order, and safe sweeping."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from collectors.records import (
    CloudAccountRecord,
    DiskRecord,
    InstanceRecord,
    IPRecord,
    MachineRecord,
    RegionRecord,
    ShootRecord,
)
from collectors.scope import Scope
from graph_schema.registry import NODE_CLASSES, links_into, links_of
from graphinv.config import Neo4jConnection
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema
from graphinv.ingest.engine import OWNER
from tests.support.tcp_proxy import CuttingProxy

INSTANCES = Scope("aws", "111", "eu-west-1", "Instance")
DISKS = Scope("aws", "111", "eu-west-1", "Disk")
MACHINES = Scope("gardener", "seed-a", "global", "Machine")


@pytest.fixture
def ingest(graph: Graph) -> Ingest:
    install_schema(graph)
    return Ingest(graph, batch_size=3)


def inst(uid: str, **kw: object) -> InstanceRecord:
    base: dict[str, object] = dict(provider="aws", account_id="111", region="eu-west-1", name=f"vm-{uid}",
                                   state="running", status="running", account_ref="aws:111")
    base.update(kw)
    return InstanceRecord(uid=uid, **base)


def disk(uid: str, instance: str | None, **kw: object) -> DiskRecord:
    return DiskRecord(uid=uid, provider="aws", account_id="111", region="eu-west-1", size_gb=10,
                      attached=instance is not None, instance_ref=instance, **kw)


def snapshot(graph: Graph) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    nodes = graph.run_read(
        "MATCH (n) WHERE NOT n:Collection AND NOT n:Change RETURN labels(n) AS labels, n.uid AS uid, "
        "properties(n) AS props ORDER BY uid"
    )
    for row in nodes:
        props = dict(row["props"])
        for volatile in ("last_seen", "first_seen", "run_id"):
            props.pop(volatile, None)
        row["props"] = props
        row["labels"] = sorted(row["labels"])
    edges = graph.run_read(
        "MATCH (a)-[r]->(b) WHERE NOT a:Change RETURN a.uid AS a, type(r) AS rel, b.uid AS b ORDER BY a, rel, b"
    )
    return nodes, edges


def test_constraints_and_indexes_come_from_the_model(ingest: Ingest, graph: Graph) -> None:
    constraints = graph.run_read(
        "SHOW CONSTRAINTS YIELD type, labelsOrTypes, properties RETURN type, labelsOrTypes[0] AS label, "
        "properties AS props"
    )
    unique = {(c["label"], tuple(c["props"])) for c in constraints if c["type"] == "UNIQUENESS"}
    for cls in NODE_CLASSES:
        assert (cls.__label__, ("uid",)) in unique, f"no uniqueness constraint on {cls.__label__}.uid"
    indexed = {
        (i["label"], tuple(i["props"]))
        for i in graph.run_read(
            "SHOW INDEXES YIELD labelsOrTypes, properties WHERE labelsOrTypes IS NOT NULL "
            "RETURN labelsOrTypes[0] AS label, properties AS props"
        )
    }
    # Every link must be resolvable by index from both ends, or ingest degrades to label scans.
    for cls in NODE_CLASSES:
        for spec in links_of(cls.__label__):
            assert (spec.owner, (spec.via,)) in indexed, f"{spec.owner}.{spec.via} not indexed"
            assert (spec.target, (spec.target_key,)) in indexed, f"{spec.target}.{spec.target_key} not indexed"
        assert (cls.__label__, ("scope",)) in indexed
    install_schema(graph)  # a second install is a no-op, not an error


def test_ingest_twice_gives_the_same_graph(ingest: Ingest, graph: Graph) -> None:
    def load() -> None:
        ingest.write_context(INSTANCES, [CloudAccountRecord(uid="aws:111", provider="aws", account_id="111")])
        with ingest.scope(INSTANCES) as run:
            run.write(inst(f"i-{n}", tags={"Name": f"vm-{n}", "team": "a"},
                           created=datetime(2026, 1, 1, tzinfo=UTC)) for n in range(7))
        with ingest.scope(DISKS) as run:
            run.write(disk(f"vol-{n}", f"i-{n}") for n in range(7))

    load()
    first = snapshot(graph)
    load()
    assert snapshot(graph) == first
    nodes, edges = first
    assert len([n for n in nodes if "Instance" in n["labels"]]) == 7  # type: ignore[operator]
    assert sum(1 for e in edges if e["rel"] == "HAS_DISK") == 7
    # The account owns every instance and disk: the engine derives account_ref from provider and account_id.
    assert sum(1 for e in edges if e["rel"] == "OWNS") == 14
    aws_labels = graph.run_read("MATCH (n:Instance:AWS) RETURN count(n) AS c")[0]["c"]
    assert aws_labels == 7
    tags = graph.run_read("MATCH (n:Instance {uid: 'i-3'}) RETURN n.tags AS tags, n.created AS created")[0]
    assert tags["tags"] == '{"Name": "vm-3", "team": "a"}'
    assert tags["created"].year == 2026


def test_times_travel_as_integers_and_are_stored_as_the_same_datetimes(ingest: Ingest, graph: Graph) -> None:
    # The engine sends record datetimes as epoch microseconds and the upsert turns them back: the graph
    # holds DateTimes equal to the records' to the microsecond, before 1970 and in other offsets too,
    # a changed one is changed, and a None removes the property.
    plus2 = timezone(timedelta(hours=2))
    times = {"i-a": datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC),
             "i-b": datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
             "i-c": datetime(2026, 3, 4, 7, 6, 7, 5, tzinfo=plus2),
             "i-d": datetime(2026, 3, 4, 5, 6, 7)}  # naive: taken as UTC, as before
    with ingest.scope(INSTANCES) as run:
        run.write(inst(uid, created=at) for uid, at in times.items())
    stored = {r["uid"]: r for r in graph.run_read(
        "MATCH (n:Instance) RETURN n.uid AS uid, n.created AS created, "
        "n.created IS :: ZONED DATETIME AS zoned")}
    for uid, at in times.items():
        assert stored[uid]["zoned"], uid
        expected = at if at.tzinfo else at.replace(tzinfo=UTC)
        assert stored[uid]["created"].to_native() == expected, uid
    later = datetime(2026, 5, 1, tzinfo=UTC)
    with ingest.scope(INSTANCES) as run:
        run.write([inst("i-a", created=later), inst("i-b", created=None), inst("i-c", created=times["i-c"]),
                   inst("i-d", created=times["i-d"])])
    query = "MATCH (n:Instance) RETURN n.uid AS uid, n.created AS created"
    again = {r["uid"]: r["created"] for r in graph.run_read(query)}
    assert again["i-a"].to_native() == later and again["i-b"] is None
    assert again["i-c"].to_native() == times["i-c"]


def test_one_round_trip_per_batch_not_per_row(ingest: Ingest) -> None:
    with ingest.scope(INSTANCES) as run:
        run.write(inst(f"i-{n}") for n in range(10))
    assert ingest.round_trips == 4  # batches of 3: 3 + 3 + 3 + 1


def test_complete_scope_sweeps_only_its_own_unseen_nodes(ingest: Ingest, graph: Graph) -> None:
    other_region = Scope("aws", "111", "eu-central-1", "Instance")
    with ingest.scope(INSTANCES) as run:
        run.write([inst("i-1"), inst("i-2"), inst("i-3")])
    with ingest.scope(other_region) as run:
        run.write([inst("i-9", region="eu-central-1")])
    with ingest.scope(DISKS) as run:
        run.write([disk("vol-2", "i-2")])
    with ingest.scope(INSTANCES) as run:
        run.write([inst("i-1"), inst("i-3")])
    assert run.result.swept == {"Instance": 1}
    uids = {r["uid"] for r in graph.run_read("MATCH (i:Instance) RETURN i.uid AS uid")}
    assert uids == {"i-1", "i-3", "i-9"}
    # The disk of the swept VM stays (its own scope did not run) but has lost its edge.
    assert graph.run_read("MATCH (d:Disk {uid: 'vol-2'}) RETURN exists((d)<-[:HAS_DISK]-()) AS e") == [{"e": False}]
    collection = graph.run_read(
        "MATCH (c:Collection {uid: $k}) RETURN c.status AS status, c.swept AS swept, c.written AS written",
        {"k": INSTANCES.key},
    )
    assert collection == [{"status": "complete", "swept": 1, "written": 2}]


def _then_fail(records: list[InstanceRecord]) -> Iterator[InstanceRecord]:
    yield from records
    raise ConnectionError("region answered 503 after two pages; password=hunter2")


def test_failed_or_partial_read_deletes_nothing(ingest: Ingest, graph: Graph) -> None:
    with ingest.scope(INSTANCES) as run:
        run.write([inst("i-1"), inst("i-2"), inst("i-3"), inst("i-4")])
    first = graph.run_read("MATCH (c:Collection {uid: $k}) RETURN c.last_complete_started AS t",
                           {"k": INSTANCES.key})[0]["t"]
    # A read that fails before yielding anything.
    with pytest.raises(PermissionError), ingest.scope(INSTANCES) as run:
        raise PermissionError("AccessDenied")
    # A read that yields part of the scope, then fails.
    with pytest.raises(ConnectionError), ingest.scope(INSTANCES) as run:
        run.write(_then_fail([inst("i-1", state="stopped")]))
    rows = graph.run_read("MATCH (i:Instance) RETURN i.uid AS uid, i.state AS state ORDER BY uid")
    assert [r["uid"] for r in rows] == ["i-1", "i-2", "i-3", "i-4"]
    assert rows[0]["state"] == "stopped"  # what the partial read did see is real and kept
    c = graph.run_read(
        "MATCH (c:Collection {uid: $k}) RETURN c.status AS status, c.error AS error, "
        "c.last_complete_started AS t", {"k": INSTANCES.key},
    )[0]
    assert c["status"] == "failed"
    assert "503" in c["error"] and "hunter2" not in c["error"]
    assert c["t"] == first  # freshness still says when the scope was last read completely


def test_links_appear_whichever_end_arrives_first(ingest: Ingest, graph: Graph) -> None:
    shoots = Scope("gardener", "garden", "global", "Shoot")
    # Machine and disk before their instance; instance before its shoot.
    with ingest.scope(MACHINES) as run:
        run.write([
            MachineRecord(uid="seed-a/shoot--p--s/m1", name="m1", namespace="shoot--p--s", seed_name="seed-a",
                          shoot_ref="shoot--p--s", instance_ref="i-1"),
            MachineRecord(uid="seed-a/shoot--p--s/m2", name="m2", namespace="shoot--p--s", seed_name="seed-a",
                          shoot_ref="shoot--p--s", instance_name_ref="shoot--p--s/m2"),
        ])
    with ingest.scope(DISKS) as run:
        run.write([disk("vol-1", "i-1")])
    with ingest.scope(INSTANCES) as run:
        run.write([
            inst("i-1", cluster="shoot--p--s", shoot_ref="shoot--p--s", cluster_name_key="shoot--p--s/m1"),
            inst("i-2", cluster="shoot--p--s", shoot_ref="shoot--p--s", cluster_name_key="shoot--p--s/m2"),
            # Same name, other cluster: must not be taken for m2's VM.
            inst("i-3", name="m2", cluster="shoot--q--s", shoot_ref="shoot--q--s",
                 cluster_name_key="shoot--q--s/m2"),
        ])
    with ingest.scope(shoots) as run:
        run.write([ShootRecord(uid="garden-p/s", name="s", namespace="garden-p", technical_id="shoot--p--s")])
    edges = {(e["a"], e["rel"], e["b"]) for e in graph.run_read(
        "MATCH (a)-[r]->(b) WHERE NOT a:Change RETURN a.uid AS a, type(r) AS rel, b.uid AS b")}
    assert edges == {
        ("seed-a/shoot--p--s/m1", "RUNS_ON", "i-1"),
        ("seed-a/shoot--p--s/m2", "RUNS_ON", "i-2"),
        ("i-1", "HAS_DISK", "vol-1"),
        ("garden-p/s", "HAS_MACHINE", "seed-a/shoot--p--s/m1"),
        ("garden-p/s", "HAS_MACHINE", "seed-a/shoot--p--s/m2"),
        ("garden-p/s", "OWNS_VM", "i-1"),
        ("garden-p/s", "OWNS_VM", "i-2"),
        # The account and region nodes come from the account_ref and region_ref the engine derives.
        ("aws:111", "OWNS", "i-1"),
        ("aws:111", "OWNS", "i-2"),
        ("aws:111", "OWNS", "i-3"),
        ("aws:111", "OWNS", "vol-1"),
        *{(uid, "IN_REGION", "aws:eu-west-1") for uid in ("i-1", "i-2", "i-3", "vol-1")},
    }


def test_changed_references_move_edges(ingest: Ingest, graph: Graph) -> None:
    ips = Scope("aws", "111", "eu-west-1", "IP")
    with ingest.scope(INSTANCES) as run:
        run.write([inst("i-1"), inst("i-2")])
    with ingest.scope(ips) as run:
        run.write([IPRecord(uid="eipalloc-1", provider="aws", account_id="111", instance_ref="i-1", attached=True)])
    with ingest.scope(ips) as run:  # re-associated to another VM
        run.write([IPRecord(uid="eipalloc-1", provider="aws", account_id="111", instance_ref="i-2", attached=True)])
    assert graph.run_read("MATCH (i)-[:HAS_IP]->(:IP) RETURN i.uid AS uid") == [{"uid": "i-2"}]
    with ingest.scope(ips) as run:  # disassociated
        run.write([IPRecord(uid="eipalloc-1", provider="aws", account_id="111")])
    assert graph.run_read("MATCH ()-[r:HAS_IP]->() RETURN count(r) AS c") == [{"c": 0}]
    assert graph.run_read("MATCH (p:IP) RETURN p.instance_ref AS ref, p.attached AS a") == [{"ref": None, "a": False}]


def test_unknown_record_fields_are_refused(ingest: Ingest) -> None:
    from dataclasses import dataclass

    @dataclass
    class Odd(InstanceRecord):
        colour: str = "blue"

    with pytest.raises(TypeError, match="colour"), ingest.scope(INSTANCES) as run:
        run.write([Odd(uid="i-1")])  # type: ignore[call-arg]  # record fields come from the model


def test_lost_connection_mid_batch_is_retried_whole(graph: Graph, neo4j_connection: Neo4jConnection) -> None:
    install_schema(graph)
    port = int(neo4j_connection.uri.rsplit(":", 1)[1])
    proxy = CuttingProxy(port, cut_on=b"UNWIND $batch.rows", cuts=1)
    try:
        with Graph(Neo4jConnection(uri=f"bolt://127.0.0.1:{proxy.port}")) as flaky:
            ingest = Ingest(flaky, batch_size=50)
            with ingest.scope(INSTANCES) as run:
                run.write(inst(f"i-{n}") for n in range(120))
    finally:
        proxy.close()
    assert proxy.cuts_done == 1
    assert graph.run_read("MATCH (i:Instance) RETURN count(i) AS c") == [{"c": 120}]
    assert graph.run_read("MATCH (c:Collection {uid: $k}) RETURN c.status AS s", {"k": INSTANCES.key}) == [
        {"s": "complete"}
    ]


def test_every_link_target_has_a_reverse_resolution() -> None:
    # A link declared on one class must be found from the other end too (late arrival).
    for cls in NODE_CLASSES:
        for spec in links_of(cls.__label__):
            assert spec in links_into(spec.target)


def test_accounts_and_regions_are_created_from_references(ingest: Ingest, graph: Graph) -> None:
    scope = Scope("gcp", "proj-a", "global", "Disk")
    with ingest.scope(scope) as run:
        run.write([DiskRecord(uid="projects/proj-a/zones/europe-west1-b/disks/d1", provider="gcp",
                              account_id="proj-a", region="europe-west1", account_ref="gcp:proj-a",
                              region_ref="gcp:europe-west1")])
    rows = graph.run_read(
        "MATCH (a:CloudAccount)-[:OWNS]->(d:Disk)-[:IN_REGION]->(r:Region) "
        "RETURN a.uid AS a, a.account_id AS acct, r.uid AS r, r.name AS name, r.provider AS provider"
    )
    assert rows == [{"a": "gcp:proj-a", "acct": "proj-a", "r": "gcp:europe-west1", "name": "europe-west1",
                     "provider": "gcp"}]
    # A second scope naming the same region reuses the node.
    with ingest.scope(Scope("gcp", "proj-b", "global", "Disk")) as run:
        run.write([DiskRecord(uid="projects/proj-b/zones/europe-west1-c/disks/d2", provider="gcp",
                              account_id="proj-b", region="europe-west1", account_ref="gcp:proj-b",
                              region_ref="gcp:europe-west1")])
    assert graph.run_read("MATCH (r:Region) RETURN count(r) AS c") == [{"c": 1}]


def _instance_state(graph: Graph, uid: str) -> dict[str, object]:
    return graph.run_read("MATCH (i:Instance {uid: $uid}) RETURN i.state AS state, i.run_id AS run_id, "
                          "i.last_seen AS last_seen, i.scope AS scope", {"uid": uid})[0]


def test_an_unchanged_record_only_refreshes_its_node(ingest: Ingest, graph: Graph) -> None:
    # A re-read that brings the same record refreshes last_seen and run_id and writes nothing else: a
    # property edited behind the engine's back shows that the node was not written whole (that edit
    # is put right by the first read of the next day, or by any change of the record).
    with ingest.scope(INSTANCES) as run:
        run.write([inst("i-1"), inst("i-2")])
    graph.run_write("MATCH (i:Instance {uid: 'i-1'}) SET i.state = 'edited by hand'")
    first = _instance_state(graph, "i-1")
    with ingest.scope(INSTANCES) as run:
        run.write([inst("i-1"), inst("i-2", state="stopped")])
    refreshed = _instance_state(graph, "i-1")
    assert refreshed["state"] == "edited by hand"
    assert refreshed["run_id"] == run.run_id != first["run_id"]
    assert refreshed["last_seen"] > first["last_seen"]  # type: ignore[operator]
    assert _instance_state(graph, "i-2")["state"] == "stopped"  # a changed record is written whole
    assert run.result.written == {"Instance": 2} and run.result.total_swept == 0
    # A hash that does not match (another day's, another release's) writes the node whole again.
    graph.run_write("MATCH (i:Instance {uid: 'i-1'}) SET i.content_hash = 'of another day'")
    with ingest.scope(INSTANCES) as run:
        run.write([inst("i-1"), inst("i-2", state="stopped")])
    assert _instance_state(graph, "i-1")["state"] == "running"
    # The same record read from another scope is written whole: the node moves to that scope.
    other_region = Scope("aws", "111", "eu-central-1", "Instance")
    with ingest.scope(other_region) as run:
        run.write([inst("i-2", state="stopped")])
    assert _instance_state(graph, "i-2")["scope"] == other_region.key


def test_content_hash_covers_values_names_statement_and_day() -> None:
    from graphinv.ingest.engine import content_hash

    props: dict[str, object] = {"name": "vm-1", "state": "running", "created": 1767225600000000, "tags": None}
    same = content_hash("Instance", dict(props), "2026-11-30")
    assert same == content_hash("Instance", dict(props), "2026-11-30")
    assert same != content_hash("Instance", {**props, "state": "stopped"}, "2026-11-30")
    assert same != content_hash("Instance", {**props, "tags": "{}"}, "2026-11-30")
    assert same != content_hash("Instance", {"label": "vm-1", **{k: v for k, v in props.items() if k != "name"}},
                                "2026-11-30")
    assert same != content_hash("Instance", dict(props), "2026-12-01")  # written whole once a day
    assert same != content_hash("Disk", dict(props), "2026-11-30")  # another label's upsert statement


def test_links_reach_nodes_that_were_only_refreshed(ingest: Ingest, graph: Graph) -> None:
    # A Machine and a disk whose records never change are only refreshed on every re-read; their
    # instance arriving later, going (swept) and coming back must still link and unlink them.
    machine = MachineRecord(uid="seed-a/shoot--p--s/m1", name="m1", namespace="shoot--p--s",
                            seed_name="seed-a", shoot_ref="shoot--p--s", instance_ref="i-1")

    def reread_machine_and_disk() -> None:
        with ingest.scope(MACHINES) as run:
            run.write([machine])
        with ingest.scope(DISKS) as run:
            run.write([disk("vol-1", "i-1")])

    def edges() -> set[tuple[str, str]]:
        return {(r["a"], r["b"]) for r in graph.run_read(
            "MATCH (a)-[r:RUNS_ON|HAS_DISK]->(b) RETURN a.uid AS a, b.uid AS b")}

    reread_machine_and_disk()
    reread_machine_and_disk()
    with ingest.scope(INSTANCES) as run:
        run.write([inst("i-1")])
    linked = {(machine.uid, "i-1"), ("i-1", "vol-1")}
    assert edges() == linked
    with ingest.scope(INSTANCES) as run:
        run.write([inst("i-9")])  # i-1 is gone: swept with its edges
    assert run.result.swept == {"Instance": 1} and edges() == set()
    reread_machine_and_disk()
    with ingest.scope(INSTANCES) as run:
        run.write([inst("i-1"), inst("i-9")])
    assert edges() == linked


def _claims(graph: Graph) -> dict[str, tuple[object, bool]]:
    """Each VM's ClaimFlag next to whether a Machine runs on it or a Bastion uses it."""
    return {r["uid"]: (r["flag"], r["edge"]) for r in graph.run_read(
        "MATCH (i:Instance) RETURN i.uid AS uid, i.claimed AS flag, "
        "EXISTS { (i)<-[:RUNS_ON|USES_VM]-() } AS edge")}


def _assert_claims_exact(graph: Graph, step: str) -> None:
    # The flag may only err on the side of "unclaimed" (the orphan query checks the edges again);
    # along these paths it is exact, and a flag saying claimed for an unclaimed VM would hide an orphan.
    wrong = {uid: pair for uid, pair in _claims(graph).items() if pair[0] is not pair[1]}
    assert wrong == {}, f"after {step}: (flag, edge) of VMs whose flag is wrong: {wrong}"


def test_claim_flags_follow_every_edge_machines_and_bastions_make_or_remove(ingest: Ingest, graph: Graph) -> None:
    from collectors.records import BastionRecord
    from graphinv.ingest.engine import apply_changes

    def machine(name: str, instance: str | None) -> MachineRecord:
        return MachineRecord(uid=f"seed-a/shoot--p--s/{name}", name=name, namespace="shoot--p--s",
                             seed_name="seed-a", shoot_ref="shoot--p--s", instance_ref=instance)

    def read_machines(*machines: MachineRecord) -> None:
        with ingest.scope(MACHINES) as run:
            run.write(machines)

    def read_instances(*uids: str) -> None:
        with ingest.scope(INSTANCES) as run:
            run.write(inst(uid, cluster="shoot--p--s") for uid in uids)

    read_machines(machine("m1", "i-1"))  # the machine before its VM
    read_instances("i-1", "i-2", "i-3", "i-4")
    _assert_claims_exact(graph, "VMs after their machine")
    assert _claims(graph)["i-1"] == (True, True) and _claims(graph)["i-2"] == (False, False)
    read_machines(machine("m1", "i-1"), machine("m2", "i-2"))  # a VM before its machine
    _assert_claims_exact(graph, "a machine after its VM")
    read_machines(machine("m1", "i-1"), machine("m2", "i-3"))  # m2 moves to another VM
    _assert_claims_exact(graph, "a machine moving to another VM")
    assert _claims(graph)["i-2"] == (False, False) and _claims(graph)["i-3"] == (True, True)
    read_machines(machine("m2", "i-3"))  # m1 is gone: the complete read sweeps it
    _assert_claims_exact(graph, "a machine swept")
    assert _claims(graph)["i-1"] == (False, False)
    apply_changes(ingest, MACHINES, [machine("m4", "i-4")], [("Machine", machine("m2", None).uid)])
    _assert_claims_exact(graph, "a watch batch adding one machine and deleting another")
    assert _claims(graph)["i-3"] == (False, False) and _claims(graph)["i-4"] == (True, True)
    read_instances("i-1", "i-2", "i-3", "i-4")  # unchanged VMs, only refreshed: the flags stay right
    _assert_claims_exact(graph, "a re-read of unchanged VMs")
    bastions = Scope("gardener", "garden", "global", "Bastion")
    with ingest.scope(bastions) as run:
        run.write([BastionRecord(uid="garden-p/b1", name="b1", namespace="garden-p", vm_name="vm-i-2")])
    _assert_claims_exact(graph, "a Bastion using a VM")
    assert _claims(graph)["i-2"] == (True, True)
    with ingest.scope(bastions) as run:
        run.write([])
    _assert_claims_exact(graph, "the Bastion swept")
    # A graph written before the flag existed: the schema install fills it in.
    graph.run_write("MATCH (i:Instance) REMOVE i.claimed")
    install_schema(graph)
    _assert_claims_exact(graph, "the schema install after an older graphinv")


def test_a_scope_starts_and_ends_in_one_transaction_each(ingest: Ingest, graph: Graph) -> None:
    # The scope's start (with the account and region that frame it) and its end (the last batch, the
    # stale check, publishing its changes, the Collection's `complete`) are one commit each.
    context = [CloudAccountRecord(uid="aws:111", provider="aws", account_id="111"),
               RegionRecord(uid="aws:eu-west-1", provider="aws", name="eu-west-1")]
    for round_ in range(2):  # into an empty graph, then as a re-read that sweeps
        before = graph.write_transactions
        with ingest.scope(INSTANCES, context) as run:
            run.write([inst("i-1"), inst(f"i-{round_ + 2}")])
        sweep = 1 if round_ else 0  # the re-read's sweep of i-2 is a transaction of its own, then the end
        assert graph.write_transactions - before == 2 + sweep * 2
        assert run.result.written == {"Instance": 2} and run.result.swept == {"Instance": sweep}
    assert graph.run_read("MATCH (i:Instance) RETURN i.uid AS uid ORDER BY uid") == [{"uid": "i-1"}, {"uid": "i-3"}]
    assert graph.run_read("MATCH (a:CloudAccount)-[:OWNS]->(:Instance {uid: 'i-1'}) RETURN a.uid AS uid"
                          ) == [{"uid": "aws:111"}]
    assert graph.run_read("MATCH (c:Collection {uid: $k}) RETURN c.status AS s, c.written AS w, c.swept AS sw",
                          {"k": INSTANCES.key}) == [{"s": "complete", "w": 2, "sw": 1}]
    # every change is published: i-1..3 appeared, i-2 gone (with its edges)
    assert graph.run_read("MATCH (c:Change) WHERE c.at IS NULL RETURN count(c) AS n") == [{"n": 0}]
    assert graph.run_read("MATCH (c:Change {kind: 'gone'}) RETURN c.node_uid AS uid") == [{"uid": "i-2"}]


def test_a_deferred_start_travels_with_the_scopes_first_transaction(graph: Graph) -> None:
    install_schema(graph)
    ingest = Ingest(graph, batch_size=3)
    context = [CloudAccountRecord(uid="aws:111", provider="aws", account_id="111"),
               RegionRecord(uid="aws:eu-west-1", provider="aws", name="eu-west-1")]

    def collection(scope: Scope) -> list[dict[str, Any]]:
        return graph.run_read("MATCH (c:Collection {uid: $k}) RETURN c.status AS s, c.error AS e", {"k": scope.key})

    # A small read: nothing in the graph until its end, then start and end in one commit (the
    # Collection never said `running`: nobody is told it does).
    running: list[str] = []
    before = graph.write_transactions
    run = ingest.scope(INSTANCES, context, defer_start=True, on_running=lambda: running.append("small"))
    run.write([inst("i-1"), inst("i-2")])
    assert run.start_pending and graph.write_transactions == before and collection(INSTANCES) == []
    assert graph.run_read("MATCH (a:CloudAccount) RETURN count(a) AS n") == [{"n": 0}]
    run.complete()
    assert graph.write_transactions - before == 1 and running == [] and not run.start_pending
    assert collection(INSTANCES) == [{"s": "complete", "e": None}]
    # the start went with the end: the Collection holds all a start records
    assert graph.run_read("MATCH (c:Collection {uid: $k}) RETURN c.owner AS owner, c.run_id AS run, "
                          "c.started = c.last_complete_started AS same_start, c.kind AS kind", {"k": INSTANCES.key}
                          ) == [{"owner": OWNER, "run": run.run_id, "same_start": True, "kind": "Instance"}]
    assert graph.run_read("MATCH (:CloudAccount {uid: 'aws:111'})-[:OWNS]->(i:Instance) RETURN count(i) AS n"
                          ) == [{"n": 2}]
    # A large read: its first full batch carries the start, so the Collection says `running` while
    # the read goes on; `begin` after that changes nothing.
    before = graph.write_transactions
    run = ingest.scope(INSTANCES, context, defer_start=True, on_running=lambda: running.append("large"))
    run.write([inst(f"i-{n}") for n in range(1, 5)])  # a batch of 3 sent, 1 buffered
    assert graph.write_transactions - before == 1 and not run.start_pending and running == ["large"]
    assert collection(INSTANCES) == [{"s": "running", "e": None}]
    run.begin()
    assert graph.write_transactions - before == 1
    run.complete()
    # `begin` records a waiting start on its own; a failure before any write is one commit with it.
    run = ingest.scope(DISKS, defer_start=True)
    run.begin()
    assert collection(DISKS) == [{"s": "running", "e": None}]
    run.complete()
    before = graph.write_transactions
    run = ingest.scope(DISKS, defer_start=True)
    run.fail(PermissionError("UnauthorizedOperation"))
    assert graph.write_transactions - before == 1
    assert collection(DISKS) == [{"s": "failed", "e": "PermissionError: UnauthorizedOperation"}]


def test_a_lost_connection_at_the_scope_end_is_retried_whole(graph: Graph,
                                                             neo4j_connection: Neo4jConnection) -> None:
    install_schema(graph)
    port = int(neo4j_connection.uri.rsplit(":", 1)[1])
    proxy = CuttingProxy(port, cut_on=b"RETURN stale, promoted", cuts=1)
    try:
        with Graph(Neo4jConnection(uri=f"bolt://127.0.0.1:{proxy.port}")) as flaky:
            with Ingest(flaky, batch_size=50).scope(INSTANCES) as run:
                run.write(inst(f"i-{n}") for n in range(70))  # a batch of 50 alone, 20 with the end
            assert flaky.tx_retries == 1
    finally:
        proxy.close()
    assert proxy.cuts_done == 1
    assert run.result.written == {"Instance": 70}
    assert graph.run_read("MATCH (i:Instance) RETURN count(i) AS c") == [{"c": 70}]
    # the retried end wrote its 20 rows and their changes once
    assert graph.run_read("MATCH (c:Change {kind: 'appeared'}) RETURN count(c) AS n, count(c.at) AS published"
                          ) == [{"n": 70, "published": 70}]
    assert graph.run_read("MATCH (c:Collection {uid: $k}) RETURN c.status AS s, c.written AS w",
                          {"k": INSTANCES.key}) == [{"s": "complete", "w": 70}]


def test_a_lost_connection_in_a_one_statement_transaction_is_retried(graph: Graph,
                                                                    neo4j_connection: Neo4jConnection) -> None:
    # The scope's start (no context) and the end of an empty read are transactions of one statement,
    # their BEGIN sent with it (graphinv.db); the driver retries them all the same.
    install_schema(graph)
    port = int(neo4j_connection.uri.rsplit(":", 1)[1])
    for cut_on in (b"c.status = 'running'", b"RETURN stale, promoted"):
        proxy = CuttingProxy(port, cut_on=cut_on, cuts=1)
        try:
            with Graph(Neo4jConnection(uri=f"bolt://127.0.0.1:{proxy.port}")) as flaky:
                with Ingest(flaky).scope(DISKS):
                    pass
                assert flaky.tx_retries == 1 and flaky.write_transactions == 2
        finally:
            proxy.close()
        assert proxy.cuts_done == 1
        assert graph.run_read("MATCH (c:Collection {uid: $k}) RETURN c.status AS s", {"k": DISKS.key}
                              ) == [{"s": "complete"}]


def test_a_write_transaction_sends_its_begin_with_its_first_statement(neo4j_connection: Neo4jConnection) -> None:
    # graphinv.db pipelines a write transaction's BEGIN with its first statement (through a switch the
    # driver does not make public): one statement and its commit are two flights from the client,
    # where a read, begun the usual way, takes three. A driver release without the switch makes every
    # write wait for one more round trip; this test then says so.
    proxy = CuttingProxy(int(neo4j_connection.uri.rsplit(":", 1)[1]), cut_on=b"never cut", cuts=0)
    try:
        with Graph(Neo4jConnection(uri=f"bolt://127.0.0.1:{proxy.port}")) as through_proxy:
            through_proxy.run_write("RETURN 1 AS one")  # the connection's own greeting, once
            through_proxy.run_read("RETURN 1 AS one")
            flights: dict[str, float] = {}
            for kind, transaction in (("write", through_proxy.run_write), ("read", through_proxy.run_read)):
                before = proxy.client_chunks
                for _ in range(5):
                    assert transaction("RETURN 1 AS one") == [{"one": 1}]
                flights[kind] = (proxy.client_chunks - before) / 5
    finally:
        proxy.close()
    assert flights == {"write": 2, "read": 3}


def test_a_scope_end_that_keeps_failing_sweeps_nothing_and_keeps_the_rows_read(
        graph: Graph, neo4j_connection: Neo4jConnection) -> None:
    install_schema(graph)
    with Ingest(graph).scope(INSTANCES) as run:
        run.write([inst("i-1"), inst("i-2"), inst("i-3")])
    complete = graph.run_read("MATCH (c:Collection {uid: $k}) RETURN c.last_complete_started AS t",
                              {"k": INSTANCES.key})[0]["t"]
    port = int(neo4j_connection.uri.rsplit(":", 1)[1])
    proxy = CuttingProxy(port, cut_on=b"RETURN stale, promoted", cuts=1000)
    try:
        with Graph(Neo4jConnection(uri=f"bolt://127.0.0.1:{proxy.port}"), max_retry_seconds=1) as flaky:
            run = Ingest(flaky).scope(INSTANCES)
            run.write([inst("i-1", state="stopped"), inst("i-4")])  # i-2 and i-3 unseen
            with pytest.raises(Exception) as failed:
                run.complete()
            run.fail(failed.value)  # as the collection runner does with a failure the graph can record
    finally:
        proxy.close()
    assert proxy.cuts_done >= 1
    rows = graph.run_read("MATCH (i:Instance) RETURN i.uid AS uid, i.state AS state ORDER BY uid")
    assert [r["uid"] for r in rows] == ["i-1", "i-2", "i-3", "i-4"]  # nothing swept, the rows read kept
    assert rows[0]["state"] == "stopped"
    c = graph.run_read("MATCH (c:Collection {uid: $k}) RETURN c.status AS s, c.error AS e, "
                       "c.last_complete_started AS t", {"k": INSTANCES.key})[0]
    assert c["s"] == "failed" and c["e"] and c["t"] == complete
    # the failed read's changes stay pending: nobody sees them
    assert graph.run_read("MATCH (c:Change {node_uid: 'i-4'}) RETURN c.at AS at, c.pending AS p"
                          ) == [{"at": None, "p": INSTANCES.key}]
