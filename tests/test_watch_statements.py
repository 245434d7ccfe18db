"""The statement a watch batch is written with (graphinv.ingest.engine.change_query): its plan, made
once on an empty graph and kept, finds every node by an index or from a bound node; one statement
holds stamps, upserts of several providers, deletes, change publication and the confirmation; a
batch of several labels keeps the order stamps, upserts, deletes, publication, confirmation."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.queries import SCANS, explained_operators
from collectors.records import InstanceRecord, SeedRecord
from collectors.scope import Scope
from graph_schema.registry import NODE_CLASSES
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema
from graphinv.ingest.cypher import KEEP_PLAN
from graphinv.ingest.engine import _empty_change_params, apply_changes, change_query, prepare_changes

SCOPE = Scope("gardener", "garden", "global", "Seed")


def test_every_change_statement_keeps_a_plan_that_scans_no_label(graph: Graph) -> None:
    install_schema(graph)
    params = _empty_change_params(SCOPE, datetime.now(UTC))
    for cls in NODE_CLASSES:
        for capture in (False, True):
            text = change_query(cls.__label__, capture)
            assert text.startswith(KEEP_PLAN)
            ops = explained_operators(graph, text, params)
            assert "NodeIndexSeek" in ops or "NodeUniqueIndexSeek(Locking)" in ops, (cls.__label__, ops)
            scans = [op for op in ops if op in SCANS]
            assert scans == [], f"{cls.__label__} capture={capture}: {scans}\n{text}"


def _seed(uid: str, provider: str) -> SeedRecord:
    return SeedRecord(uid=uid, name=uid, provider=provider)


def test_one_batch_of_two_providers_with_deletes_publishes_and_confirms(graph: Graph) -> None:
    install_schema(graph)
    ingest = Ingest(graph)
    prepare_changes(ingest, SCOPE, ["Seed"])  # planning writes nothing
    assert graph.run_read("MATCH (n) RETURN count(n) AS c")[0]["c"] == 0
    apply_changes(ingest, SCOPE, [_seed("s-aws", "aws"), _seed("s-gcp", "gcp"), _seed("s-old", "aws")], [])
    as_of = datetime(2030, 1, 2, tzinfo=UTC)
    result = apply_changes(ingest, SCOPE, [_seed("s-aws", "aws"), _seed("s-az", "azure")],
                           [("Seed", "s-old")], confirm_as_of=as_of)
    assert result.written == {"Seed": 2} and result.deleted == {"Seed": 1}
    rows = graph.run_read("MATCH (s:Seed) RETURN s.uid AS uid, labels(s) AS labels ORDER BY uid")
    assert [(r["uid"], sorted(r["labels"])) for r in rows] == [
        ("s-aws", ["AWS", "Seed"]), ("s-az", ["Azure", "Seed"]), ("s-gcp", ["GCP", "Seed"])]
    changes = graph.run_read("MATCH (c:Change) RETURN c.kind AS kind, c.node_uid AS uid, c.pending AS pending, "
                             "c.at IS NOT NULL AS published ORDER BY kind, uid")
    assert [(c["kind"], c["uid"]) for c in changes] == [
        ("appeared", "s-aws"), ("appeared", "s-az"), ("appeared", "s-gcp"), ("appeared", "s-old"),
        ("gone", "s-old")]
    assert all(c["published"] and c["pending"] is None for c in changes)
    collection = graph.run_read("MATCH (c:Collection {uid: $key}) RETURN c.last_complete_started AS at, "
                                "c.watched AS watched, c.status AS status", {"key": SCOPE.key})
    assert collection[0]["at"].to_native() == as_of and collection[0]["watched"] is True
    assert collection[0]["status"] == "complete"
    # an older confirmation never moves the scope back
    apply_changes(ingest, SCOPE, [], [("Seed", "s-gcp")], confirm_as_of=datetime(2029, 1, 1, tzinfo=UTC))
    again = graph.run_read("MATCH (c:Collection {uid: $key}) RETURN c.last_complete_started AS at", {"key": SCOPE.key})
    assert again[0]["at"].to_native() == as_of
    assert graph.run_read("MATCH (s:Seed {uid: 's-gcp'}) RETURN count(s) AS c")[0]["c"] == 0


def test_a_batch_of_two_labels_stamps_before_it_writes(graph: Graph) -> None:
    """A Seed deleted in the same batch as an Instance written: the Instance it pointed at is stamped
    (stamps come first), the Instance's own upsert lands, and a delete only removes nodes of the scope."""
    install_schema(graph)
    ingest = Ingest(graph)
    cloud = Scope("aws", "111", "eu-west-1", "Instance")
    apply_changes(ingest, SCOPE, [_seed("s1", "aws")], [])
    graph.run_write("CREATE (:Instance {uid: 'i-1', scope: 'elsewhere'})")
    graph.run_write("MATCH (s:Seed {uid: 's1'}), (i:Instance {uid: 'i-1'}) CREATE (s)-[:POINTS_AT]->(i)")
    at = datetime(2031, 5, 6, tzinfo=UTC)
    vm = InstanceRecord(uid="i-2", name="vm", provider="aws")
    result = apply_changes(ingest, cloud, [vm], [("Seed", "s1"), ("Instance", "i-1")], now=at)
    assert result.written == {"Instance": 1}
    assert result.deleted == {"Seed": 0, "Instance": 0}  # neither is in the cloud scope
    stamped = graph.run_read("MATCH (i:Instance {uid: 'i-1'}) RETURN i.owner_changed_at AS at")
    assert stamped[0]["at"].to_native() == at
    assert graph.run_read("MATCH (i:Instance:AWS {uid: 'i-2'}) RETURN i.scope AS scope")[0]["scope"] == cloud.key
