"""Orphan lifecycle on a simulated landscape collected twice: orphan_since and evidence from the
change history (kept on the resources, and filled in on a graph written before they were), findings
closed when resolved, acknowledgements stored in the graph, hidden from the
report and the alerts until they expire, listed with --acked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from graphinv.config import Neo4jConnection
from graphinv.db import Graph
from graphinv.history.lifecycle import SHOW_ACKED, acknowledge
from graphinv.ingest import install_schema
from graphinv.orphans import OrphanFilter, orphan_report
from tests.support.cli import run_graphinv
from tests.support.history_landscape import Planned, base_landscape, collect, planned_edit


def findings(graph: Graph) -> dict[str, dict[str, object]]:
    return {r["uid"]: r for r in graph.run_read(
        "MATCH (f:OrphanFinding) RETURN f.resource_uid AS uid, f.orphan_since AS since, f.closed_at AS closed, "
        "f.close_reason AS why")}


def test_orphan_since_evidence_closing_and_acks(graph: Graph, neo4j_connection: Neo4jConnection,
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    land = base_landscape()
    _, ids = collect(graph, land, tmp_path / "one")
    p = Planned()
    gone_vm, machine_vm = ids[p.gone_vm][1], ids["vm-a3"][1]
    first = {r["uid"]: r for r in orphan_report(graph, OrphanFilter(provider="aws"))}
    assert first[gone_vm]["verdict"] == "orphan" and first[gone_vm]["orphan_since"]
    since = findings(graph)[gone_vm]["since"]
    assert since is not None and findings(graph)[gone_vm]["closed"] is None
    written = graph.run_read("MATCH (f:OrphanFinding) RETURN f.uid AS uid, f.last_seen AS at ORDER BY uid")
    again = {r["uid"]: r for r in orphan_report(graph, OrphanFilter(provider="aws"))}
    assert again[gone_vm]["orphan_since"] == first[gone_vm]["orphan_since"]  # the first judgement stays
    # A report that repeats the last one writes nothing to the findings it already holds.
    assert graph.run_read("MATCH (f:OrphanFinding) RETURN f.uid AS uid, f.last_seen AS at ORDER BY uid") == written

    edited = planned_edit(land)
    collect(graph, edited, tmp_path / "two", clouds_first=True)
    rows = {r["uid"]: r for r in orphan_report(graph, OrphanFilter(provider="aws"))}
    # The Machine's sweep stamped its VM after this run's cloud read began, so the run cannot prove
    # the VM unclaimed yet (docs/ownership.md section 6): unverified until the next cloud read.
    assert rows[machine_vm]["verdict"] == "unverified"
    collect(graph, edited, tmp_path / "three")
    rows = {r["uid"]: r for r in orphan_report(graph, OrphanFilter(provider="aws"))}
    # The VM whose Machine was deleted: an orphan since now, with the Machine and when it left.
    vm = rows[machine_vm]
    assert vm["verdict"] == "orphan"
    assert f"Machine s1/shoot--p--a/{p.deleted_machine} lost its RUNS_ON edge" in str(vm["evidence"])
    assert vm["orphan_days"] is not None and float(vm["orphan_days"]) < 0.01
    # The orphan VM that was deleted: its finding is closed, as gone.
    closed = findings(graph)[gone_vm]
    assert closed["closed"] is not None and closed["why"] == "gone"
    assert findings(graph)[machine_vm]["closed"] is None
    # The report read those facts from the resources, where publication and the findings keep them.
    kept = graph.run_read("MATCH (i:Instance {uid: $u}) RETURN i.lost_edge AS edge, i.lost_edge_at IS NOT NULL AS at, "
                          "i.orphan_since AS since", {"u": machine_vm})
    assert kept == [{"edge": ["Machine", f"s1/shoot--p--a/{p.deleted_machine}", "RUNS_ON"], "at": True,
                     "since": findings(graph)[machine_vm]["since"]}]

    # A graph written before the resources kept them: starting graphinv (install_schema) fills them in
    # from the history and the open findings, and the report is the same (but for the ages, which
    # follow the clock). Without the fill-in the VM would have no evidence.
    def timeless(report: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
        return {uid: {k: v for k, v in r.items() if k not in ("orphan_days", "age_days")} for uid, r in report.items()}

    graph.run_write("MATCH (r) WHERE r:Instance OR r:Disk OR r:IP "
                    "REMOVE r.lost_edge_at, r.lost_edge, r.orphan_since, r.orphan_finding")
    graph.run_write("MATCH (b:Backfill) DELETE b")
    install_schema(graph)
    filled = {r["uid"]: r for r in orphan_report(graph, OrphanFilter(provider="aws"))}
    assert len(filled) > 2 and timeless(filled) == timeless(rows)
    assert graph.run_read("MATCH (b:Backfill) RETURN b.uid AS uid, b.filled > 0 AS filled") == [
        {"uid": "orphan-lifecycle-on-resources", "filled": True}]

    # Acknowledged: left out of the report (and so of the orphan alerts), listed with --acked.
    cfg = tmp_path / "graphinv.yaml"
    cfg.write_text(yaml.safe_dump({"neo4j": {"uri": neo4j_connection.uri}}))
    done = run_graphinv("-c", str(cfg), "orphans", "ack", machine_vm, "--reason", "kept for forensics",
                        "--until", "30d", "--by", "alice")
    assert done.returncode == 0, done.stderr
    assert graph.run_read("MATCH (a:OrphanAck {uid: $u}) RETURN a.by AS by, a.reason AS why",
                          {"u": machine_vm}) == [{"by": "alice", "why": "kept for forensics"}]
    done = run_graphinv("-c", str(cfg), "orphans", "--provider", "aws", "--format", "json", "--exit-zero")
    assert done.returncode == 0, done.stderr
    assert machine_vm not in {r["uid"] for r in json.loads(done.stdout)}
    done = run_graphinv("-c", str(cfg), "orphans", "--provider", "aws", "--format", "json", "--acked")
    listed = {r["uid"]: r for r in json.loads(done.stdout)}
    assert listed[machine_vm]["ack"].startswith("alice: kept for forensics (until ")
    assert findings(graph)[machine_vm]["closed"] is None  # hidden is not resolved

    # An acknowledgement that has expired hides nothing.
    acknowledge(graph, machine_vm, "short", datetime.now(UTC) - timedelta(seconds=1), by="bob")
    assert machine_vm in {r["uid"] for r in orphan_report(graph, OrphanFilter(provider="aws"))}
    token = SHOW_ACKED.set(True)
    try:
        rows = {r["uid"]: r for r in orphan_report(graph, OrphanFilter(provider="aws"))}
        assert not rows[machine_vm]["acked"]
    finally:
        SHOW_ACKED.reset(token)
    done = run_graphinv("-c", str(cfg), "orphans", "ack", machine_vm, "--reason", " ")
    assert done.returncode == 2 and "needs a reason" in done.stderr
