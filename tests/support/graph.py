"""The test graph: emptying it between tests."""

from __future__ import annotations

from graphinv.db import Graph


def wipe(graph: Graph) -> None:
    """Every node and relationship gone; constraints and indexes stay."""
    # Batched so a large test graph does not exhaust transaction memory; 5,000 nodes a batch keeps a
    # batch of densely linked nodes (history Change nodes, accounts with 10k edges) within the cap.
    while graph.run_write("MATCH (n) WITH n LIMIT 5000 DETACH DELETE n RETURN count(*) AS c")[0]["c"]:
        pass
