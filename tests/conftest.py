"""Shared fixtures: one real Neo4j 5.26 server for the whole session, a clean graph per test.

The test server runs on free ports in its own home directory, so it never touches a Neo4j that a
developer runs for the demo. GRAPHINV_TEST_NEO4J_URI points the suite at an already running
server instead (it must be disposable: every test empties it). `./dev test` runs the modules in
parallel worker processes (pytest-xdist); each worker starts its own server, or takes its own entry
of a comma-separated GRAPHINV_TEST_NEO4J_URI (one disposable server per worker).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from graphinv.config import Neo4jConnection
from graphinv.db import Graph
from graphinv.neo4j_server import LocalNeo4j, LocalNeo4jSettings
from graphinv.ports import free_port
from tests.support.graph import wipe

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def external_neo4j_uris() -> list[str]:
    return [u.strip() for u in os.environ.get("GRAPHINV_TEST_NEO4J_URI", "").split(",") if u.strip()]


def pytest_configure(config: pytest.Config) -> None:
    # Two workers emptying one graph would fail each other's tests at random: refuse before starting.
    workers = getattr(config.option, "numprocesses", None)
    uris = external_neo4j_uris()
    if uris and isinstance(workers, int) and workers > len(uris):
        raise pytest.UsageError(f"GRAPHINV_TEST_NEO4J_URI names {len(uris)} server(s) for {workers} test "
                                "workers: give one per worker (comma-separated) or run with -n 0")


def external_neo4j_uri() -> str | None:
    """This process's entry of GRAPHINV_TEST_NEO4J_URI: the n-th for xdist worker `gw<n>`."""
    uris = external_neo4j_uris()
    if not uris:
        return None
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return uris[int(worker.removeprefix("gw")) if worker else 0]


@pytest.fixture(scope="session")
def neo4j_connection(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Neo4jConnection]:
    external = external_neo4j_uri()
    if external:
        yield Neo4jConnection(
            uri=external,
            user=os.environ.get("GRAPHINV_TEST_NEO4J_USER", "neo4j"),
            password=SecretStr(password) if (password := os.environ.get("GRAPHINV_TEST_NEO4J_PASSWORD")) else None,
        )
        return
    settings = LocalNeo4jSettings(
        home=tmp_path_factory.mktemp("neo4j-home"),
        bolt_port=free_port(),
        http_port=free_port(),
        heap="2g",
        pagecache="1g",
    )
    server = LocalNeo4j(settings)
    server.start()
    try:
        yield Neo4jConnection(uri=server.bolt_uri)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def session_graph(neo4j_connection: Neo4jConnection) -> Iterator[Graph]:
    graph = Graph(neo4j_connection)
    graph.verify()
    yield graph
    graph.close()


@pytest.fixture
def graph(session_graph: Graph) -> Iterator[Graph]:
    """The real server with an empty graph (schema constraints and indexes stay)."""
    wipe(session_graph)
    yield session_graph


@pytest.fixture
def shared_samples() -> Path:
    """../shared/api-samples, or a skip that says why."""
    path = SHARED / "api-samples"
    if not path.is_dir():
        pytest.skip(f"upstream API samples not found at {path} (the shared/ folder is absent)")
    return path
