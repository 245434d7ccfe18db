"""`graphinv serve --workers N`: N uvicorn worker processes, each answering GraphQL from the graph."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from graphinv.commands.serve import MAX_DEFAULT_WORKERS, default_workers
from graphinv.config import Neo4jConnection
from graphinv.db import Graph
from graphinv.ports import free_port
from tests.support.processes import graphinv_command, start_process, stop_process, wait_for_http, wait_until

START = 180.0
QUERY = "{ projects { edges { node { name } } } }"


def test_default_is_one_worker_per_cpu_within_bounds() -> None:
    assert 1 <= default_workers() <= MAX_DEFAULT_WORKERS


def test_two_workers_serve_graphql(graph: Graph, neo4j_connection: Neo4jConnection, tmp_path: Path) -> None:
    graph.run_write("CREATE (:Project {uid: 'p-workers', name: 'workers', namespace: 'garden-workers'})")
    port = free_port()
    env = {"GRAPHINV_CONFIG": "", "GRAPHINV_NEO4J_URI": neo4j_connection.uri}
    if neo4j_connection.auth:
        env["GRAPHINV_NEO4J_PASSWORD"] = neo4j_connection.auth[1]
    server = start_process("serve", graphinv_command("serve", "--port", str(port), "--workers", "2",
                                                     "--log-level", "info"), tmp_path / "logs", env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/healthz", START, [server])
        # uvicorn logs one "Started server process [pid]" per worker
        wait_until(lambda: len(set(re.findall(r"Started server process \[(\d+)\]", server.log()))) == 2, START,
                   "two worker processes", [server])
        assert "2 worker processes" in server.output()
        for _ in range(4):
            answer = httpx.post(f"{base}/graphql", json={"query": QUERY}, timeout=60)
            assert answer.status_code == 200, answer.text
            assert {"node": {"name": "workers"}} in answer.json()["data"]["projects"]["edges"], answer.text
    finally:
        code = stop_process(server)
    assert code == 0, server.describe()


def test_workers_must_be_positive(tmp_path: Path) -> None:
    server = start_process("serve", graphinv_command("serve", "--workers", "0"), tmp_path / "logs",
                           env={"GRAPHINV_CONFIG": ""})
    assert server.popen.wait(120) != 0
    assert "--workers must be at least 1" in server.output() + server.log()
