"""The test graph: emptying it between tests."""

from __future__ import annotations

from graphinv.db import Graph


def wipe(graph: Graph) -> None:
    """Every node and relationship gone; constraints and indexes stay."""
    # Batched so a large test graph does not exhaust transaction memory.
    while graph.run_write("MATCH (n) WITH n LIMIT 20000 DETACH DELETE n RETURN count(*) AS c")[0]["c"]:
        pass
