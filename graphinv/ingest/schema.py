"""Install the constraints and indexes the model classes declare, through neomodel's label install."""

from __future__ import annotations

import io

from neomodel import db as neomodel_db
from neomodel import get_config

from graph_schema.registry import NODE_CLASSES
from graphinv.db import Graph


def install_schema(graph: Graph) -> None:
    """Idempotent: existing constraints and indexes are left as they are."""
    get_config().database_name = graph.database
    neomodel_db.set_connection(driver=graph.driver)
    quiet = io.StringIO()  # neomodel reports "already exists" on stdout; that is expected on re-runs
    for cls in NODE_CLASSES:
        neomodel_db.install_labels(cls, quiet=True, stdout=quiet)
    # Wait until new indexes are online, so the first queries after install use them.
    graph.run_write("CALL db.awaitIndexes(300)")


def schema_summary(graph: Graph) -> dict[str, int]:
    constraints = graph.run_read("SHOW CONSTRAINTS YIELD name RETURN count(*) AS c")[0]["c"]
    indexes = graph.run_read("SHOW INDEXES YIELD name RETURN count(*) AS c")[0]["c"]
    return {"constraints": constraints, "indexes": indexes}
