"""Install the constraints and indexes the model classes declare, through neomodel's label install, and
fill in what a graph written by an older graphinv lacks."""

from __future__ import annotations

import io

from neomodel import db as neomodel_db
from neomodel import get_config

from graph_schema.registry import NODE_CLASSES
from graph_schema.surfaces import claim_flag
from graphinv.db import Graph
from graphinv.ingest.cypher import claimed_from_edges

BACKFILL_CHUNK = 10_000


def install_schema(graph: Graph) -> None:
    """Idempotent: existing constraints and indexes are left as they are."""
    get_config().database_name = graph.database
    neomodel_db.set_connection(driver=graph.driver)
    quiet = io.StringIO()  # neomodel reports "already exists" on stdout; that is expected on re-runs
    for cls in NODE_CLASSES:
        neomodel_db.install_labels(cls, quiet=True, stdout=quiet)
    # Wait until new indexes are online, so the first queries after install use them.
    graph.run_write("CALL db.awaitIndexes(300)")
    backfill_claims(graph)


def backfill_claims(graph: Graph) -> int:
    """Set the ClaimFlag (graph_schema.base) of nodes written before graphinv kept it: a query that
    starts from the flag would not see them at all. The next whole write of each node sets it too
    (graphinv/ingest/cypher.py); this closes the gap until then. Nothing to do on a current graph but
    one scan of the flagged labels."""
    filled = 0
    for cls in NODE_CLASSES:
        flag = claim_flag(cls.__label__)
        if flag is None:
            continue
        name, rels = flag
        query = (f"MATCH (n:`{cls.__label__}`) WHERE n.`{name}` IS NULL WITH n LIMIT $chunk "
                 f"SET n.`{name}` = {claimed_from_edges('n', rels)} RETURN count(n) AS filled")
        while True:
            done = int(graph.run_write(query, {"chunk": BACKFILL_CHUNK})[0]["filled"])
            filled += done
            if done < BACKFILL_CHUNK:
                break
    return filled


def schema_summary(graph: Graph) -> dict[str, int]:
    constraints = graph.run_read("SHOW CONSTRAINTS YIELD name RETURN count(*) AS c")[0]["c"]
    indexes = graph.run_read("SHOW INDEXES YIELD name RETURN count(*) AS c")[0]["c"]
    return {"constraints": constraints, "indexes": indexes}
