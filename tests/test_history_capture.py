"""Change capture on the real server: two collections of a simulated landscape with planned
differences record exactly the differences between the two graphs, and nothing for an unchanged
re-collection or a scope that could not be read. The oracle is independent of the capture: a
snapshot of every remembered property and tracked edge before and after, diffed in Python."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from collectors.records import DiskRecord, InstanceRecord
from collectors.scope import Scope
from graph_schema.registry import NODE_CLASSES
from graphinv.db import Graph
from graphinv.history.store import ChangeFilter, list_changes, node_history, prune
from graphinv.ingest import Ingest, install_schema
from graphinv.ingest.changes import remembered, tracked_rels
from graphinv.ingest.engine import apply_changes
from tests.support.history_landscape import Planned, base_landscape, collect, forbid_other_region, planned_edit

Fact = tuple[str, ...]
State = tuple[dict[str, dict[str, str | None]], set[tuple[str, str, str]], dict[str, str]]


def snapshot(graph: Graph) -> State:
    """uid -> remembered property -> value as text; tracked edges; uid -> label."""
    props: dict[str, dict[str, str | None]] = {}
    labels: dict[str, str] = {}
    for cls in NODE_CLASSES:
        mem = remembered(cls.__label__)
        if mem is None:
            continue
        for row in graph.run_read(f"MATCH (n:{cls.__label__}) RETURN n.uid AS uid, "
                                  f"[k IN $keys | toString(n[k])] AS values", {"keys": list(mem.properties)}):
            props[row["uid"]] = dict(zip(mem.properties, row["values"], strict=True))
            labels[row["uid"]] = cls.__label__
    edges: set[tuple[str, str, str]] = set()
    for start, rel, end in tracked_rels():
        edges |= {(r["a"], rel, r["b"]) for r in graph.run_read(
            f"MATCH (a:{start})-[:{rel}]->(b:{end}) RETURN a.uid AS a, b.uid AS b")}
    return props, edges, labels


def expected_facts(before: State, after: State) -> Counter[Fact]:
    (p0, e0, _), (p1, e1, _) = before, after
    facts: Counter[Fact] = Counter()
    facts.update(("appeared", uid) for uid in p1.keys() - p0.keys())
    facts.update(("gone", uid) for uid in p0.keys() - p1.keys())
    for uid in p0.keys() & p1.keys():
        for key, old in p0[uid].items():
            if old != p1[uid][key]:
                facts[("changed", uid, key, str(old), str(p1[uid][key]))] += 1
    facts.update(("linked", a, rel, b) for a, rel, b in e1 - e0)
    facts.update(("unlinked", a, rel, b) for a, rel, b in e0 - e1)
    return facts


def recorded_facts(rows: list[dict[str, object]]) -> Counter[Fact]:
    facts: Counter[Fact] = Counter()
    for r in rows:
        kind = str(r["kind"])
        if kind == "changed":
            facts[(kind, str(r["node_uid"]), str(r["property"]), str(r["before"]), str(r["after"]))] += 1
        elif kind in ("linked", "unlinked"):
            facts[(kind, str(r["node_uid"]), str(r["rel"]), str(r["other_uid"]))] += 1
        else:
            facts[(kind, str(r["node_uid"]))] += 1
    return facts


def published(graph: Graph) -> list[dict[str, object]]:
    return list_changes(graph, ChangeFilter(), limit=100_000)


def test_planned_differences_are_recorded_exactly(graph: Graph, tmp_path: Path) -> None:
    land = base_landscape()
    summary, ids = collect(graph, land, tmp_path / "one")
    assert not summary.failed
    first = published(graph)
    state0 = snapshot(graph)
    # The first read: everything appeared, each edge linked; nothing changed or went.
    assert {r["kind"] for r in first} == {"appeared", "linked"}
    assert Counter(r["kind"] for r in first)["appeared"] == len(state0[0])

    summary, ids2 = collect(graph, planned_edit(land), tmp_path / "two")
    assert not summary.failed
    rows = published(graph)[len(first):]
    state1 = snapshot(graph)
    assert recorded_facts(rows) == expected_facts(state0, state1)

    p = Planned()
    uid = {key: u for key, (_label, u) in {**ids, **ids2}.items()}
    machine = f"s1/shoot--p--a/{p.deleted_machine}"
    facts = recorded_facts(rows)
    planned: set[Fact] = {
        ("gone", uid[p.gone_vm]),
        ("changed", uid[p.detached_disk], "attached", "true", "false"),
        ("unlinked", uid["vm-a2"], "HAS_DISK", uid[p.detached_disk]),
        ("gone", machine),
        ("unlinked", machine, "RUNS_ON", uid["vm-a3"]),
        ("unlinked", "garden-p/a", "HAS_MACHINE", machine),
        ("appeared", uid[p.new_ip]),
        ("linked", uid[p.ip_holder], "HAS_IP", uid[p.new_ip]),
        ("changed", "garden-p/b", "hibernated", "false", "true"),
    }
    assert planned <= set(facts), sorted(planned - set(facts))
    retag = [f for f in facts if f[:3] == ("changed", uid[p.retagged_vm], "tags")]
    assert len(retag) == 1 and '"team": "blue"' in retag[0][3] and '"team": "green"' in retag[0][4]
    # Nothing else: every change concerns a planned object or what goes with it (the gone VM's boot
    # disk, the retagged VM's boot disk that carries its tags, the shoots that own them).
    related = {uid[k] for k in (p.gone_vm, p.detached_disk, p.new_ip, p.retagged_vm, "vm-a2", "vm-a3")}
    related |= {machine, "garden-p/a", "garden-p/b", uid[f"{p.retagged_vm}#root"]}
    gone_boot = {str(r["node_uid"]) for r in rows if r["kind"] == "gone" and r["node_label"] == "Disk"}
    assert len(gone_boot) == 1
    related |= gone_boot
    touched = {str(r["node_uid"]) for r in rows} | {str(r["other_uid"]) for r in rows if r["other_uid"]}
    assert touched <= related, sorted(touched - related)
    # Provider and project are kept on every change, so filters work after the node is gone.
    gone = next(r for r in rows if r["node_uid"] == uid[p.gone_vm] and r["kind"] == "gone")
    assert (gone["provider"], gone["project"], gone["node_label"]) == ("aws", "p", "Instance")
    assert [r["kind"] for r in node_history(graph, uid[p.gone_vm])][-2:] == ["unlinked", "gone"]
    assert list_changes(graph, ChangeFilter(kind="gone", project="p", provider="aws"), limit=100)


def test_unchanged_recollection_records_nothing(graph: Graph, tmp_path: Path) -> None:
    land = base_landscape()
    collect(graph, land, tmp_path / "one")
    count = len(published(graph))
    assert count > 0
    summary, _ = collect(graph, land, tmp_path / "two")
    assert not summary.failed
    assert len(published(graph)) == count
    assert graph.run_read("MATCH (c:Change) WHERE c.pending IS NOT NULL RETURN count(c) AS n")[0]["n"] == 0


def test_forbidden_scope_records_nothing(graph: Graph, tmp_path: Path) -> None:
    land = base_landscape()
    _, ids = collect(graph, land, tmp_path / "one")
    count = len(published(graph))
    summary, _ = collect(graph, forbid_other_region(land), tmp_path / "two")
    assert [r.scope.region for r in summary.failed] and all(r.scope.region == "eu-central-1" for r in summary.failed)
    assert len(published(graph)) == count  # its VM was deleted behind the forbidden read: no "gone"
    vm = ids["vm-other"][1]
    assert graph.run_read("MATCH (i:Instance {uid: $u}) RETURN count(i) AS n", {"u": vm})[0]["n"] == 1


def inst(uid: str, state: str) -> InstanceRecord:
    return InstanceRecord(uid=uid, provider="aws", account_id="111", region="eu-west-1", name=uid, state=state,
                          account_ref="aws:111")


def test_partial_read_publishes_nothing_until_a_complete_one(graph: Graph) -> None:
    install_schema(graph)
    ingest = Ingest(graph, batch_size=2)
    scope = Scope("aws", "111", "eu-west-1", "Instance")
    with ingest.scope(scope) as run:
        run.write([inst("i-1", "running"), inst("i-2", "running")])
    base = len(published(graph))
    run = ingest.scope(scope)
    run.write([inst("i-1", "stopped"), inst("i-3", "running")])
    run.fail("page 2: HTTP 503")
    assert len(published(graph)) == base  # no gone for i-2, and the partial read's changes wait
    with ingest.scope(scope) as run:
        run.write([inst("i-1", "stopped"), inst("i-2", "running"), inst("i-3", "running")])
    facts = recorded_facts(published(graph)[base:])
    assert facts == Counter({("changed", "i-1", "state", "running", "stopped"): 1, ("appeared", "i-3"): 1})


def test_capture_off_records_nothing_and_retention_prunes(graph: Graph) -> None:
    install_schema(graph)
    scope = Scope("aws", "111", "eu-west-1", "Instance")
    with Ingest(graph, capture_changes=False).scope(scope) as run:
        run.write([inst("i-1", "running")])
    assert published(graph) == []
    with Ingest(graph).scope(scope) as run:
        run.write([inst("i-1", "stopped")])
    assert len(published(graph)) == 1
    assert prune(graph, timedelta(days=90)) == 0
    assert prune(graph, timedelta(days=1), now=datetime.now(UTC) + timedelta(days=2)) == 1
    assert published(graph) == []


def test_a_published_unlink_marks_the_resource_that_lost_the_edge(graph: Graph) -> None:
    """The orphan report reads a resource's last lost needed edge from the resource itself
    (graphinv.ingest.changes.publish_clause): marked when the unlink is published, by a complete read or
    a watch batch, never by a failed read, whose unlinks stay pending."""
    install_schema(graph)
    ingest = Ingest(graph, batch_size=2)
    common: dict[str, Any] = {"provider": "aws", "account_id": "111", "region": "eu-west-1"}
    disks = Scope("aws", "111", "eu-west-1", "Disk")
    with ingest.scope(Scope("aws", "111", "eu-west-1", "Instance")) as run:
        run.write([inst("i-1", "running")])
    attached = [DiskRecord(uid=uid, attached=True, instance_ref="i-1", **common) for uid in ("vol-1", "vol-2")]
    with ingest.scope(disks) as run:
        run.write(attached)

    def marks() -> dict[str, tuple[object, object]]:
        return {r["uid"]: (r["edge"], r["at"]) for r in graph.run_read(
            "MATCH (d:Disk) OPTIONAL MATCH (c:Change {other_uid: d.uid, kind: 'unlinked'}) WHERE c.at IS NOT NULL "
            "RETURN d.uid AS uid, d.lost_edge AS edge, d.lost_edge_at = c.at AS at")}

    assert marks() == {"vol-1": (None, None), "vol-2": (None, None)}
    detached = DiskRecord(uid="vol-1", attached=False, **common)
    run = ingest.scope(disks)
    run.write([detached])
    run.fail("page 2: HTTP 503")
    assert marks() == {"vol-1": (None, None), "vol-2": (None, None)}  # pending, like the history
    with ingest.scope(disks) as run:
        run.write([detached, attached[1]])
    assert marks() == {"vol-1": (["Instance", "i-1", "HAS_DISK"], True), "vol-2": (None, None)}
    apply_changes(ingest, disks, [DiskRecord(uid="vol-2", attached=False, **common)], [])
    assert marks()["vol-2"] == (["Instance", "i-1", "HAS_DISK"], True)
