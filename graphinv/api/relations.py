"""The edges the API traverses, each as one Cypher pattern from a parent `a` (found by uid) to `n`.

Relations are made from the model's declared relationships (graph_schema.surfaces.api_edges) by
graphinv/api/nodes.py. A relation is fetched for many parents at once (`UNWIND $keys`), so a nested
field costs one round trip per level of the query, whatever the number of parents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Relation:
    name: str
    pattern: str  # `a` is the parent, matched on `key.uid`; `n` the nodes returned
    rel: str = ""
    direction: Literal["out", "in"] = "out"
    child: str = ""

    def hop(self, parent: str, child: str) -> str:
        """The same edge from an already bound `parent` variable to `child` (compiled queries)."""
        if self.direction == "out":
            return f"({parent})-[:{self.rel}]->({child}:{self.child})"
        return f"({child}:{self.child})-[:{self.rel}]->({parent})"

    def batch_query(self) -> str:
        # ORDER BY before collect keeps pages stable; the slice honours each parent's own `first`
        # (LIMIT cannot depend on a row's value); only the asked-for properties travel back.
        return (
            "UNWIND $keys AS key\n"
            f"MATCH {self.pattern}\n"
            "WITH key, n ORDER BY n.uid\n"
            "WITH key, collect(n)[..key.first] AS page\n"
            "RETURN key AS key, [x IN page | [p IN key.props | x[p]]] AS nodes"
        )


def relation(name: str, parent: str, rel: str, direction: Literal["out", "in"], child: str) -> Relation:
    """out: (parent)-[rel]->(child); in: (child)-[rel]->(parent)."""
    if direction == "out":
        return Relation(name, f"(a:{parent} {{uid: key.uid}})-[:{rel}]->(n:{child})", rel, direction, child)
    return Relation(name, f"(n:{child})-[:{rel}]->(a:{parent} {{uid: key.uid}})", rel, direction, child)
