"""Stale data is refused, never reported as "no orphans": the same rule for the CLI and GraphQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from graphinv.api import create_app
from graphinv.api.settings import ApiSettings
from graphinv.api.threaded import serving
from graphinv.config import Neo4jConnection
from graphinv.db import Graph
from graphinv.orphan_settings import OrphansSettings
from tests.support.cli import run_graphinv

SCOPE = "aws/111111111111/eu-west-1/Instance"
QUERY = '{ orphans(provider: "aws") { uid verdict } }'


def _ask(base: str) -> dict[str, Any]:
    response = httpx.post(f"{base}/graphql", json={"query": QUERY}, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _cli(conn: Neo4jConnection) -> tuple[int, str]:
    env = {"GRAPHINV_NEO4J_URI": conn.uri, "GRAPHINV_CONFIG": ""}
    if conn.auth:
        env["GRAPHINV_NEO4J_PASSWORD"] = conn.auth[1]
    done = run_graphinv("orphans", "--provider", "aws", "--format", "json", env=env)
    return done.returncode, done.stderr


def test_graphql_orphans_refuse_stale_data_like_the_cli(graph: Graph, neo4j_connection: Neo4jConnection) -> None:
    app = create_app(graph, ApiSettings(), orphans=OrphansSettings(max_staleness=timedelta(hours=6)))
    with serving(app) as base:
        never = _ask(base)
        assert never.get("data") is None or never["data"].get("orphans") is None
        assert "no complete collection of aws" in never["errors"][0]["message"]

        graph.run_write("CREATE (:Collection {uid: $scope, scope: $scope, source: 'aws', kind: 'Instance', "
                        "status: 'complete', last_complete_finished: datetime() - duration({days: 2})})",
                        {"scope": SCOPE})
        stale = _ask(base)
        message = stale["errors"][0]["message"]
        assert "within 6h" in message and SCOPE in message, message
        code, stderr = _cli(neo4j_connection)
        assert code == 2 and SCOPE in stderr, stderr
        # a fresh read of another provider proves nothing about this one
        graph.run_write("CREATE (:Collection {uid: 'gcp/p/europe-west1/Instance', source: 'gcp', status: 'complete', "
                        "last_complete_finished: datetime()})")
        assert SCOPE in _ask(base)["errors"][0]["message"]

        graph.run_write("MATCH (c:Collection {uid: $scope}) SET c.last_complete_finished = datetime()",
                        {"scope": SCOPE})
        fresh = _ask(base)
    assert "errors" not in fresh and fresh["data"]["orphans"] == []
