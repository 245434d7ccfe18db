"""`graphinv changes` and `graphinv history` as a user runs them, against the real server."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from collectors.records import InstanceRecord, ShootRecord
from collectors.scope import Scope
from graphinv.config import Neo4jConnection
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema
from tests.support.cli import run_graphinv

VMS = Scope("aws", "111", "eu-west-1", "Instance")
SHOOTS = Scope("gardener", "garden", "global", "Shoot")


def vm(uid: str, state: str = "running") -> InstanceRecord:
    return InstanceRecord(uid=uid, provider="aws", account_id="111", region="eu-west-1", name=uid, state=state,
                          cluster="shoot--p--a", shoot_ref="shoot--p--a", account_ref="aws:111")


def landscape_with_changes(graph: Graph) -> None:
    install_schema(graph)
    ingest = Ingest(graph)
    with ingest.scope(SHOOTS) as run:
        run.write([ShootRecord(uid="garden-p/a", name="a", namespace="garden-p", technical_id="shoot--p--a")])
    with ingest.scope(VMS) as run:
        run.write([vm("i-1"), vm("i-2")])
    with ingest.scope(VMS) as run:
        run.write([vm("i-1", "stopped")])  # i-2 is gone


def config_file(tmp_path: Path, conn: Neo4jConnection) -> str:
    path = tmp_path / "graphinv.yaml"
    path.write_text(yaml.safe_dump({"neo4j": {"uri": conn.uri}}))
    return str(path)


def test_changes_and_history_commands(graph: Graph, neo4j_connection: Neo4jConnection, tmp_path: Path) -> None:
    landscape_with_changes(graph)
    cfg = config_file(tmp_path, neo4j_connection)

    done = run_graphinv("-c", cfg, "changes", "--since", "1h", "--format", "ndjson")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    kinds = [(r["kind"], r["node_uid"]) for r in rows]
    assert ("changed", "i-1") in kinds and ("gone", "i-2") in kinds and ("appeared", "garden-p/a") in kinds
    assert all(r["at"] for r in rows) and len({r["uid"] for r in rows}) == len(rows)

    done = run_graphinv("-c", cfg, "changes", "--since", "1h", "--kind", "gone", "--provider", "aws",
                        "--project", "p", "--format", "json")
    assert done.returncode == 0, done.stderr
    gone = json.loads(done.stdout)
    assert [(r["kind"], r["node_uid"], r["node_label"]) for r in gone] == [("gone", "i-2", "Instance")]

    done = run_graphinv("-c", cfg, "changes", "--since", "1h", "--kind", "changed")
    assert done.returncode == 0, done.stderr
    assert "state running -> stopped" in done.stdout and "1 changes" in done.stdout

    done = run_graphinv("-c", cfg, "history", "i-2", "--format", "json")
    assert done.returncode == 0, done.stderr
    timeline = [(r["kind"], r.get("rel")) for r in json.loads(done.stdout)]
    assert timeline == [("appeared", None), ("linked", "OWNS_VM"), ("unlinked", "OWNS_VM"), ("gone", None)]

    done = run_graphinv("-c", cfg, "changes", "--since", "yesterday")
    assert done.returncode == 2 and "--since" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    done = run_graphinv("-c", cfg, "changes", "--kind", "vanished")
    assert done.returncode == 2 and "--kind must be one of" in done.stderr


def test_changes_page_on_with_the_printed_cursor(graph: Graph, neo4j_connection: Neo4jConnection,
                                                 tmp_path: Path) -> None:
    landscape_with_changes(graph)
    cfg = config_file(tmp_path, neo4j_connection)
    done = run_graphinv("-c", cfg, "changes", "--since", "1h", "--format", "ndjson")
    assert done.returncode == 0, done.stderr
    everything = [json.loads(line)["uid"] for line in done.stdout.splitlines()]
    assert len(everything) >= 5 and "--after" not in done.stderr  # one page held them all: no cursor

    pages: list[list[str]] = []
    args = ["changes", "--since", "1h", "--format", "json", "--limit", "2"]
    while True:
        done = run_graphinv("-c", cfg, *args)
        assert done.returncode == 0, done.stderr
        pages.append([r["uid"] for r in json.loads(done.stdout)])  # stdout stays plain JSON
        if "--after" not in done.stderr:
            break
        assert len(pages[-1]) == 2
        args = [*args[:7], "--after", done.stderr.split("--after", 1)[1].split()[0]]
    assert [uid for page in pages for uid in page] == everything

    done = run_graphinv("-c", cfg, "changes", "--after", "not-a-cursor")
    assert done.returncode == 2 and "--after" in done.stderr and len(done.stderr.strip().splitlines()) == 1
