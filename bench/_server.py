"""A throw-away Neo4j for benchmarks (or GRAPHINV_BENCH_NEO4J_URI for an existing, disposable one)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from graphinv.config import Neo4jConnection
from graphinv.db import Graph
from graphinv.neo4j_server import LocalNeo4j, LocalNeo4jSettings
from graphinv.ports import free_port


@contextlib.contextmanager
def bench_graph(heap: str = "4g", pagecache: str = "4g", tx_memory_max: str = "3g",
                start_timeout: float = 120.0) -> Iterator[Graph]:
    """GRAPHINV_BENCH_NEO4J_URI (and _PASSWORD), or a throw-away server in a temporary home."""
    uri = os.environ.get("GRAPHINV_BENCH_NEO4J_URI")
    if uri:
        password = os.environ.get("GRAPHINV_BENCH_NEO4J_PASSWORD")
        with Graph(Neo4jConnection.model_validate({"uri": uri, "password": password})) as g:
            yield g
        return
    with tempfile.TemporaryDirectory(prefix="graphinv-bench-") as home:
        server = LocalNeo4j(LocalNeo4jSettings(home=Path(home), bolt_port=free_port(), http_port=free_port(),
                                               heap=heap, pagecache=pagecache, tx_memory_max=tx_memory_max,
                                               start_timeout=start_timeout))
        server.start()
        try:
            with Graph(Neo4jConnection(uri=server.bolt_uri)) as graph:
                yield graph
        finally:
            server.stop()


def wipe(graph: Graph) -> None:
    while graph.run_write("MATCH (n) WITH n LIMIT 10000 DETACH DELETE n RETURN count(*) AS c")[0]["c"]:
        pass
