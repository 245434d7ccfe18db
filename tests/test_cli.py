"""The CLI against the real server: exit codes, formats, named queries."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from collectors.records import InstanceRecord, MachineRecord, ShootRecord
from collectors.scope import Scope
from graphinv.config import Neo4jConnection
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema

OLD = datetime.now(UTC) - timedelta(days=30)


def cli(conn: Neo4jConnection, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRAPHINV_NEO4J_URI": conn.uri, "COLUMNS": "250"}
    env.pop("GRAPHINV_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "graphinv", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False, cwd="/")


def _landscape(graph: Graph) -> None:
    install_schema(graph)
    ingest = Ingest(graph)
    with ingest.scope(Scope("gardener", "garden", "global", "Shoot")) as run:
        run.write([ShootRecord(uid="garden-dev/web", name="web", namespace="garden-dev",
                               technical_id="shoot--dev--web", seed_name="seed-1")])
    with ingest.scope(Scope("gardener", "seed-1", "global", "Machine")) as run:
        run.write([MachineRecord(uid="seed-1/shoot--dev--web/m1", name="m1", namespace="shoot--dev--web",
                                 seed_name="seed-1", shoot_ref="shoot--dev--web", instance_ref="i-live")])
    common = dict(provider="aws", account_id="111", region="eu-west-1", cluster="shoot--dev--web",
                  shoot_ref="shoot--dev--web", status="running", state="running", role="node",
                  instance_type="m5.large", created=OLD)
    with ingest.scope(Scope("aws", "111", "eu-west-1", "Instance")) as run:
        run.write([InstanceRecord(uid="i-live", name="m1", **common),
                   InstanceRecord(uid="i-leaked", name="m0", **common)])


def test_orphans_exit_codes_and_formats(graph: Graph, neo4j_connection: Neo4jConnection) -> None:
    empty = cli(neo4j_connection, "orphans")
    assert empty.returncode == 2 and "no complete collection" in empty.stderr
    _landscape(graph)
    found = cli(neo4j_connection, "orphans")
    assert found.returncode == 1, found.stderr
    assert "m0" in found.stdout and "1 orphans" in found.stdout
    assert cli(neo4j_connection, "orphans", "--exit-zero").returncode == 0
    rows = json.loads(cli(neo4j_connection, "orphans", "--format", "json").stdout)
    assert [(r["uid"], r["verdict"], r["reason"], r["project"]) for r in rows] == [
        ("i-leaked", "orphan", "no Machine runs on it", "dev")]
    assert rows[0]["est_monthly_cost_usd"] > 0 and rows[0]["age_days"] >= 29
    table = list(csv.DictReader(io.StringIO(cli(neo4j_connection, "orphans", "-f", "csv").stdout)))
    assert [r["uid"] for r in table] == ["i-leaked"]
    assert cli(neo4j_connection, "orphans", "--kind", "disk").returncode == 0
    assert cli(neo4j_connection, "orphans", "--older-than", "60d").returncode == 0
    assert cli(neo4j_connection, "orphans", "--project", "other").returncode == 0
    bad = cli(neo4j_connection, "orphans", "--provider", "ibm")
    assert bad.returncode == 2 and "--provider must be one of" in bad.stderr
    assert cli(neo4j_connection, "orphans", "--older-than", "soon").returncode == 2


def test_unreachable_neo4j_is_exit_two(neo4j_connection: Neo4jConnection) -> None:
    down = Neo4jConnection(uri="bolt://127.0.0.1:9")
    result = cli(down, "orphans")
    assert result.returncode == 2 and "not reachable" in result.stderr


def test_named_queries(graph: Graph, neo4j_connection: Neo4jConnection) -> None:
    listing = cli(neo4j_connection, "query", "--list", "-f", "json")
    names = {q["name"] for q in json.loads(listing.stdout)}
    assert {"orphan_instances", "orphan_disks", "orphan_ips", "unowned_resources", "shoots_without_machines",
            "machines_without_vm", "project_resource_counts", "unattached_disks"} <= names
    _landscape(graph)
    rows = json.loads(cli(neo4j_connection, "query", "machines_without_vm", "-f", "json").stdout)
    assert rows == []
    # Raw orphan query without parameters still applies its freshness defaults.
    raw = json.loads(cli(neo4j_connection, "query", "orphan_instances", "-f", "json").stdout)
    assert [r["uid"] for r in raw if r["verdict"] == "orphan"] == ["i-leaked"]
    unknown = cli(neo4j_connection, "query", "machines_without_vm", "-p", "nope=1")
    assert unknown.returncode == 2 and "takes no parameter" in unknown.stderr


def test_stats_shows_scopes(graph: Graph, neo4j_connection: Neo4jConnection) -> None:
    _landscape(graph)
    stats = json.loads("[" + cli(neo4j_connection, "stats", "-f", "json").stdout.replace("]\n[", "],[") + "]")
    counts, scopes = stats
    assert {"label": "Instance", "provider": "aws", "count": 2} in counts
    assert {s["scope"] for s in scopes} == {"gardener:garden:global:Shoot", "gardener:seed-1:global:Machine",
                                            "aws:111:eu-west-1:Instance"}
    assert all(s["status"] == "complete" for s in scopes)


def test_only_the_managed_server_counts_as_local() -> None:
    from graphinv.config import load_config

    def cfg(uri: str | None, port: str = "7687") -> bool:
        env = {"GRAPHINV_LOCAL_BOLT_PORT": port, **({"GRAPHINV_NEO4J_URI": uri} if uri else {})}
        return load_config(None, env=env).uses_local_server

    assert cfg(None) and cfg(None, "17687")  # nothing named: the managed server
    assert cfg("bolt://127.0.0.1:7687")
    assert not cfg("bolt://127.0.0.1:7999")  # another Neo4j on loopback (e.g. a test server)
    assert not cfg("neo4j+s://abc.databases.neo4j.io")


def test_json_output_is_one_array_with_a_row_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    """`--format json`: one JSON array, each row on its own line, only the asked-for columns in their order,
    values JSON cannot hold (a datetime) as text; no rows is `[]`."""
    from graphinv.commands.common import emit

    at = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    emit([{"uid": "i-1", "name": "zw\u00f6lf", "at": at, "extra": 1}, {"uid": "d-2", "name": None, "at": None}],
         "json", ["uid", "name", "at"])
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == 4, text
    assert json.loads(lines[1].rstrip(",")) == {"uid": "i-1", "name": "zw\u00f6lf", "at": str(at)}
    assert json.loads(text) == [{"uid": "i-1", "name": "zw\u00f6lf", "at": str(at)},
                                {"uid": "d-2", "name": None, "at": None}]
    emit([], "json", ["uid"])
    assert json.loads(capsys.readouterr().out) == []
