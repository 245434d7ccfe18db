"""Install the constraints and indexes the model classes declare, through neomodel's label install, and
fill in what a graph written by an older graphinv lacks."""

from __future__ import annotations

import io

from neomodel import db as neomodel_db
from neomodel import get_config

from graph_schema.cloud import NEEDED_BY_RELS
from graph_schema.registry import NODE_CLASSES
from graph_schema.surfaces import claim_flag
from graphinv.db import Graph
from graphinv.history.lifecycle import KIND_LABELS, OPEN_FINDINGS_BACKFILL
from graphinv.ingest.changes import LOST_EDGE_IS_NEWER, MARK_LOST_EDGE
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
    backfill_lifecycle(graph)


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


def _lost_edge_backfill(label: str) -> str:
    """The last published loss of a needed edge of each resource of `label`, from the history, for a chunk of
    resources in uid order (graphinv.ingest.changes.publish_clause keeps it from then on)."""
    return f"""
MATCH (r:{label}) WHERE r.uid > $after
WITH r ORDER BY r.uid LIMIT $chunk
WITH collect(r) AS chunk
CALL (chunk) {{
  UNWIND chunk AS r
  CALL (r) {{
    MATCH (c:Change {{other_uid: r.uid, kind: 'unlinked'}}) WHERE c.rel IN $rels AND c.at IS NOT NULL
    RETURN c ORDER BY c.at DESC LIMIT 1
  }}
  WITH r, c WHERE {LOST_EDGE_IS_NEWER}
  {MARK_LOST_EDGE}
  RETURN count(r) AS filled
}}
RETURN size(chunk) AS seen, chunk[-1].uid AS last, filled
"""


LIFECYCLE_BACKFILL = "orphan-lifecycle-on-resources"
_HISTORY_STATE = """
RETURN EXISTS { MATCH (r:Instance) } OR EXISTS { MATCH (r:Disk) } OR EXISTS { MATCH (r:IP) } AS resources,
       EXISTS { MATCH (c:Change {kind: 'unlinked'}) WHERE c.rel IN $rels AND c.at IS NOT NULL } AS unlinked
"""


def backfill_lifecycle(graph: Graph) -> int:
    """Keep on each resource the orphan lifecycle's facts a graph written before graphinv kept them lacks
    (graph_schema.cloud.CloudResource): its open finding (cheap: redone on every start, so a finding
    written by an older graphinv running beside this one is not missed for long) and, once per graph
    (a Backfill node records it), the last lost edge from the history. Bounded chunks; an interrupted
    fill-in is redone on the next start."""
    filled = int(graph.run_write(OPEN_FINDINGS_BACKFILL)[0]["filled"])
    if graph.run_read("MATCH (b:Backfill {uid: $uid}) RETURN count(b) AS done", {"uid": LIFECYCLE_BACKFILL})[0]["done"]:
        return filled
    state = graph.run_read(_HISTORY_STATE, {"rels": list(NEEDED_BY_RELS)})[0]
    if not state["resources"]:  # a new graph: nothing to fill in, and nothing is written (the next start looks again)
        return filled
    # Without a published unlink of a needed edge there is nothing to find (a graph this graphinv wrote
    # from the start, or one without history): no scan of every resource.
    for label in KIND_LABELS.values() if state["unlinked"] else ():
        after = ""
        while True:
            row = graph.run_write(_lost_edge_backfill(label),
                                  {"after": after, "chunk": BACKFILL_CHUNK, "rels": list(NEEDED_BY_RELS)})[0]
            filled += int(row["filled"])
            if row["seen"] < BACKFILL_CHUNK:
                break
            after = row["last"]
    graph.run_write("MERGE (b:Backfill {uid: $uid}) SET b.finished = datetime(), b.filled = $filled",
                    {"uid": LIFECYCLE_BACKFILL, "filled": filled})
    return filled


def schema_summary(graph: Graph) -> dict[str, int]:
    constraints = graph.run_read("SHOW CONSTRAINTS YIELD name RETURN count(*) AS c")[0]["c"]
    indexes = graph.run_read("SHOW INDEXES YIELD name RETURN count(*) AS c")[0]["c"]
    return {"constraints": constraints, "indexes": indexes}
