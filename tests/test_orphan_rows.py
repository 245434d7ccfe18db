"""The orphan queries fetched with integer timestamps give the very rows (values, types, order) the
plain queries give after converting Neo4j's DateTime values in Python."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from collectors.records import DiskRecord, IPRecord, Record
from collectors.scope import Scope
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema
from graphinv.orphan_rows import LIFECYCLE_TIME_COLUMNS, TIME_COLUMNS, as_datetime, primitive_rows
from graphinv.orphans import OrphanFilter, orphan_report
from graphinv.queries import load_query
from tests.support.one_shoot import AWS_SCOPE, GARDEN_SCOPES, gardener_records, vm

DISK_SCOPE = Scope("aws", "111", "eu-west-1", "Disk", ("IP",))
ODD_MOMENT = datetime(2026, 3, 4, 5, 6, 7, 891234, tzinfo=UTC)  # microseconds must survive the trip


def _landscape(graph: Graph) -> None:
    install_schema(graph)
    ingest = Ingest(graph)
    shoots, machines = gardener_records()
    for scope, records in ((GARDEN_SCOPES[0], shoots), (GARDEN_SCOPES[1], machines)):
        with ingest.scope(scope) as run:
            run.write(records)
    leaked = [vm(f"i-leak{n}", f"leak{n}") for n in range(5)]
    leaked[0] = dataclasses.replace(leaked[0], created=ODD_MOMENT)
    leaked[1] = dataclasses.replace(leaked[1], created=None)  # first_seen stands in for it
    with ingest.scope(AWS_SCOPE) as run:
        run.write([vm("i-live", "live"), *leaked])
    common: dict[str, Any] = dict(provider="aws", account_id="111", region="eu-west-1", zone="eu-west-1a")
    extras: list[Record] = [
        DiskRecord(uid="vol-leak0", size_gb=20, disk_type="gp3", attached=True, attached_instances=["i-leak0"],
                   instance_ref="i-leak0", cluster="shoot--dev--web", created=ODD_MOMENT, **common),
        DiskRecord(uid="vol-gone", size_gb=30, disk_type="gp3", attached=False, cluster="shoot--gone--x",
                   created=ODD_MOMENT - timedelta(days=3), last_detached=ODD_MOMENT - timedelta(days=1), **common),
        DiskRecord(uid="vol-spare", size_gb=10, disk_type="gp3", attached=False, cluster="shoot--dev--web",
                   shoot_ref="shoot--dev--web", created=ODD_MOMENT - timedelta(days=5), **common),
        IPRecord(uid="eip-free", address="198.51.100.7", allocation="elastic", attached=False, **common),
    ]
    with ingest.scope(DISK_SCOPE) as run:
        run.write(extras)


def _converted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        for key in (*TIME_COLUMNS, *LIFECYCLE_TIME_COLUMNS):
            value: Any = row.get(key)
            if hasattr(value, "to_native"):
                row[key] = value.to_native()
    return rows


def _decoded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """primitive_rows' integer timestamps as datetimes."""
    for row in rows:
        for key in (*TIME_COLUMNS, *LIFECYCLE_TIME_COLUMNS):
            if key in row:
                row[key] = as_datetime(row[key])
    return rows


def test_integer_timestamps_give_the_same_rows(graph: Graph) -> None:
    _landscape(graph)
    now = datetime.now(UTC)
    base: dict[str, Any] = {"provider": None, "account": None, "project": None, "cutoff": None,
                            "fresh_after": now - timedelta(hours=6)}
    orphan_report(graph, OrphanFilter(), now=now)  # the findings it opens are kept on the resources
    plain_vms = _converted(load_query("orphan_instances").run(graph, **base))
    assert len([r for r in plain_vms if r["verdict"] == "orphan"]) >= 4  # i-leak1 is newer than the reads
    fast_vms = _decoded(primitive_rows(graph, load_query("orphan_instances"), lifecycle=True, **base))
    assert fast_vms == plain_vms
    assert {type(r["created"]) for r in fast_vms} == {datetime}
    assert ODD_MOMENT in [r["created"] for r in fast_vms]
    assert now in [r["orphan_since"] for r in fast_vms]  # the lifecycle's timestamps too
    orphans = [r["uid"] for r in plain_vms if r["verdict"] == "orphan"]
    for name, extra in (("orphan_disks", {"orphan_instances": orphans, "unverified_instances": []}),
                        ("orphan_ips", {"orphan_instances": orphans, "unverified_instances": []}),
                        ("unattached_disks", {})):
        params: dict[str, Any] = {k: v for k, v in (base | extra).items() if k in load_query(name).params}
        plain = _converted(load_query(name).run(graph, **params))
        assert plain, f"{name} found nothing: the comparison would prove nothing"
        assert _decoded(primitive_rows(graph, load_query(name), lifecycle=True, **params)) == plain, name
        if name == "orphan_disks":
            assert ODD_MOMENT - timedelta(days=1) in [r["last_detached"] for r in plain]
    params = {"provider": None, "account": None, "kind": None}  # the unowned query's
    assert _decoded(primitive_rows(graph, load_query("unowned_resources"), **params)) == \
        _converted(load_query("unowned_resources").run(graph, **params))

    report = orphan_report(graph, OrphanFilter(), include_informational=True, now=now)
    by_uid = {r["uid"]: r for r in report}
    assert by_uid["i-leak0"]["created"] == ODD_MOMENT.isoformat()
    assert by_uid["vol-leak0"]["created"] == ODD_MOMENT.isoformat()
    assert by_uid["i-leak1"]["created"] == by_uid["i-leak1"]["first_seen"] is not None


def test_a_young_graph_reports_without_driver_warnings(graph: Graph, caplog: Any) -> None:
    """On a young graph the report's queries name property keys Neo4j has never stored (no disk was
    ever detached: `last_detached`); the driver must not log a warning for each of them."""
    _landscape(graph)
    never = f"never_stored_{uuid.uuid4().hex}"  # a key no test created: Neo4j keeps keys after a wipe
    with caplog.at_level("INFO", logger="neo4j"):
        assert graph.run_read(f"MATCH (d:Disk) RETURN d.{never} AS x LIMIT 1") == [{"x": None}]
        assert orphan_report(graph, OrphanFilter(provider="aws"))
    noted = [r.getMessage() for r in caplog.records if r.name.startswith("neo4j") and r.levelname == "WARNING"]
    assert noted == []
