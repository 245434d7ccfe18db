"""`graphinv export`: CSV per label, NDJSON, GraphML read back by networkx, over a collected landscape.

Expectations come from the graph through the test's own Cypher.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import networkx as nx
import pytest

from bench.synthetic import Synthetic
from graphinv.config import Neo4jConnection
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema
from graphinv.inventory.export import LABELS, ExportFilter, columns, write_ndjson
from tests.support.graph import wipe
from tests.support.inventory_landscapes import clean_env, collect_simulated, write_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def collected(session_graph: Graph, tmp_path_factory: pytest.TempPathFactory) -> Graph:
    wipe(session_graph)
    collect_simulated(session_graph, tmp_path_factory.mktemp("sim"))
    return session_graph


@pytest.fixture(scope="module")
def env(neo4j_connection: Neo4jConnection, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    config = write_config(tmp_path_factory.mktemp("cfg") / "graphinv.yaml", neo4j_connection)
    return clean_env(dict(os.environ), GRAPHINV_CONFIG=str(config))


def export(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "graphinv", "export", *args], capture_output=True, text=True,
                          env=env, timeout=300, check=False, cwd=REPO)


def test_csv_has_stable_columns_and_every_node(collected: Graph, env: dict[str, str]) -> None:
    first = export(env, "--format", "csv", "--label", "Instance")
    assert first.returncode == 0, first.stderr
    rows = list(csv.reader(io.StringIO(first.stdout)))
    header, body = rows[0], rows[1:]
    schema = collected.run_read("MATCH (i:Instance) RETURN i.uid AS uid, i.name AS name, i.provider AS provider "
                                "ORDER BY uid")
    assert header[:3] == ["uid", "name", "provider"]
    assert header[-5:] == ["first_seen", "last_seen", "source", "scope", "run_id"]
    assert len(set(header)) == len(header)
    assert [r[:3] for r in body] == [[s["uid"], s["name"] or "", s["provider"]] for s in schema]
    again = export(env, "--format", "csv", "--label", "Instance")
    assert again.stdout == first.stdout  # same graph, same bytes: spreadsheets can diff exports

    aws = export(env, "--format", "csv", "--label", "Disk", "--provider", "aws")
    disks = list(csv.DictReader(io.StringIO(aws.stdout)))
    expected = collected.run_read("MATCH (d:Disk {provider: 'aws'}) RETURN d.uid AS uid ORDER BY uid")
    assert [d["uid"] for d in disks] == [e["uid"] for e in expected] and disks


def test_ndjson_holds_every_inventory_node(collected: Graph, env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "all.ndjson"
    done = export(env, "--format", "ndjson", "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    expected = collected.run_read("MATCH (n) WHERE any(l IN labels(n) WHERE l IN $labels) "
                                  "RETURN [l IN labels(n) WHERE l IN $labels][0] AS label, n.uid AS uid",
                                  {"labels": list(LABELS)})
    assert sorted((r["label"], r["uid"]) for r in lines) == sorted((e["label"], e["uid"]) for e in expected)
    instance = next(r for r in lines if r["label"] == "Instance" and r["tags"])
    assert isinstance(instance["tags"], dict)  # JSON properties come out as objects
    assert list(instance)[1:] == columns("Instance")

    project = collected.run_read("MATCH (p:Project)-[:HAS_SHOOT]->(:Shoot) RETURN p.name AS name LIMIT 1")[0]["name"]
    scoped = export(env, "--format", "ndjson", "--project", project, "--label", "Instance")
    uids = {json.loads(line)["uid"] for line in scoped.stdout.splitlines()}
    wanted = collected.run_read("MATCH (i:Instance) WHERE i.cluster STARTS WITH $p RETURN i.uid AS uid",
                                {"p": f"shoot--{project}--"})
    assert uids == {w["uid"] for w in wanted} and uids


def subgraph_expected(graph: Graph, shoot: str) -> tuple[set[str], set[tuple[str, str, str]]]:
    """A shoot's subgraph by the test's own Cypher: its project, seed, machines, bastions, the cloud
    resources carrying its tag, their accounts and regions; and every relationship among them."""
    rows = graph.run_read("""
        MATCH (s:Shoot {technical_id: $shoot})
        CALL (s) {
          MATCH (n) WHERE n = s OR (n:Machine AND n.shoot_ref = $shoot) OR (n.cluster = $shoot AND
                (n:Instance OR n:Disk OR n:IP))
          RETURN n
          UNION MATCH (n:Project)-[:HAS_SHOOT]->(s) RETURN n
          UNION MATCH (n:Seed)-[:HOSTS]->(s) RETURN n
          UNION MATCH (s)-[:HAS_BASTION]->(n) RETURN n
          UNION MATCH (n)-[:OWNS|IN_REGION]-(r) WHERE r.cluster = $shoot AND (n:CloudAccount OR n:Region) RETURN n
        }
        WITH DISTINCT n
        RETURN elementId(n) AS id, n.uid AS uid,
               [l IN labels(n) WHERE NOT l IN ['AWS', 'GCP', 'Azure', 'OpenStack']][0] AS label""", {"shoot": shoot})
    names = {r["id"]: f"{r['label']}:{r['uid']}" for r in rows}
    edges = graph.run_read("MATCH (a)-[r]->(b) WHERE elementId(a) IN $ids AND elementId(b) IN $ids "
                           "RETURN elementId(a) AS a, elementId(b) AS b, type(r) AS t", {"ids": list(names)})
    return set(names.values()), {(names[e["a"]], names[e["b"]], e["t"]) for e in edges}


def test_graphml_of_a_shoot_and_a_project_loads_in_networkx(collected: Graph, env: dict[str, str],
                                                            tmp_path: Path) -> None:
    shoot = collected.run_read("MATCH (s:Shoot)-[:HAS_MACHINE]->() RETURN s.technical_id AS t "
                               "ORDER BY t LIMIT 1")[0]["t"]
    out = tmp_path / "shoot.graphml"
    done = export(env, "--format", "graphml", "--shoot", shoot, "--out", str(out))
    assert done.returncode == 0, done.stderr
    loaded = nx.read_graphml(out)
    nodes, edges = subgraph_expected(collected, shoot)
    assert set(loaded.nodes) == nodes
    assert {(a, b, d["type"]) for a, b, d in loaded.edges(data=True)} == edges
    assert any(t == "RUNS_ON" for _, _, t in edges) and any(t == "HAS_MACHINE" for _, _, t in edges)
    machine = next(n for n in loaded.nodes if n.startswith("Machine:"))
    assert loaded.nodes[machine]["label"] == "Machine"

    project = shoot.split("--")[1]
    whole = tmp_path / "project.graphml"
    assert export(env, "--format", "graphml", "--project", project, "--out", str(whole)).returncode == 0
    project_graph = nx.read_graphml(whole)
    shoots = [s["t"] for s in collected.run_read(
        "MATCH (:Project {name: $p})-[:HAS_SHOOT]->(s:Shoot) RETURN s.technical_id AS t", {"p": project})]
    for each in shoots:
        part, _ = subgraph_expected(collected, each)
        assert part <= set(project_graph.nodes), each


def test_bad_input_is_one_line_and_writes_nothing(collected: Graph, env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    for args, words in ((["--format", "xlsx"], "--format"), (["--format", "csv", "--label", "Nope"], "unknown label"),
                        (["--format", "csv", "--label", "Disk", "--label", "IP"], "one label"),
                        (["--provider", "nimbus"], "--provider")):
        done = export(env, *args, "--out", str(out))
        assert done.returncode == 2 and words in done.stderr and len(done.stderr.strip().splitlines()) == 1, done
        assert not out.exists() and not list(tmp_path.iterdir())
    missing = export(env, "--format", "csv", "--out", str(tmp_path / "no" / "such" / "dir.csv"))
    assert missing.returncode == 2 and "cannot write" in missing.stderr


def documented_commands() -> list[str]:
    text = (REPO / "docs" / "exports-and-monitoring.md").read_text()
    block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.startswith("graphinv export")]


def test_the_documented_export_commands_run(collected: Graph, env: dict[str, str], tmp_path: Path) -> None:
    """docs/exports-and-monitoring.md's commands as written, the example project and shoot swapped
    for ones the collected landscape has."""
    shoot = collected.run_read("MATCH (p:Project)-[:HAS_SHOOT]->(s:Shoot)-[:HAS_MACHINE]->() "
                               "RETURN p.name AS p, s.technical_id AS t ORDER BY t LIMIT 1")[0]
    commands = documented_commands()
    assert len(commands) == 4, commands
    for command in commands:
        argv = command.replace("shoot--myproject--prod", shoot["t"]).replace("myproject", shoot["p"]).split()
        done = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, env=env,
                              timeout=300, check=False, cwd=tmp_path)
        assert done.returncode == 0, (command, done.stderr)
        out = tmp_path / argv[argv.index("--out") + 1]
        assert out.stat().st_size > 0, command
    assert nx.read_graphml(tmp_path / "prod.graphml").number_of_nodes() > 0
    assert sum(1 for _ in (tmp_path / "inventory.ndjson").open()) > 0


def _ndjson_peak(graph: Graph, instances: int) -> tuple[int, int]:
    """(lines, peak traced bytes) of an NDJSON export of a synthetic graph of `instances` VMs."""
    wipe(graph)
    install_schema(graph)
    syn = Synthetic(instances=instances)
    ingest = Ingest(graph, capture_changes=False)  # what is measured is the export: no history needed
    for scope, records in syn.scopes():
        ingest.write_context(scope, syn.context())
        with ingest.scope(scope) as run:
            run.write(records)

    class Counting:
        lines = 0

        def write(self, text: str) -> int:
            self.lines += text.count("\n")
            return len(text)

    sink = Counting()
    tracemalloc.start()
    try:
        write_ndjson(graph, ExportFilter(labels=["Instance", "Disk"]), sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return sink.lines, peak


@pytest.mark.slow
def test_ndjson_memory_does_not_grow_with_the_graph(session_graph: Graph) -> None:
    small_lines, small_peak = _ndjson_peak(session_graph, 500)
    large_lines, large_peak = _ndjson_peak(session_graph, 4000)
    assert large_lines == 8 * small_lines  # the export really grew eightfold
    # A list of rows would grow eightfold too; a stream stays at the driver's fetch buffer.
    assert large_peak < 2 * small_peak, (small_peak, large_peak)


