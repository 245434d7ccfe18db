"""Change capture: the Cypher fragments that record, inside the ingest engine's own statements, what
really changed (graph_schema/history.py says what a Change is and which labels remember what).

Everything here is computed in the same UNWIND as the write: the old value of each remembered
property is compared with the row before `SET`, an edge is created only where it does not exist yet
(and then recorded), a stale edge is recorded before it is deleted, and a swept node is recorded
before `DETACH DELETE`. An unchanged row costs one list comprehension and nothing is written.

Changes are written with `pending` = the scope key; `publish_clause` makes them visible (sets
`at`) once the scope's read completed. A failed or partial read leaves them pending, so no reader
sees changes of a read that did not finish; the next complete read of the scope publishes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from graph_schema.base import LinkSpec
from graph_schema.cloud import NEEDED_BY_RELS
from graph_schema.registry import NODE_CLASSES, links_of, node_class, property_names

PROMOTE_CHUNK = 10_000  # pending changes published per statement


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _lit(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class Remembered:
    """What one label remembers: property names and the declared links whose edges are tracked."""

    properties: tuple[str, ...]
    links: tuple[LinkSpec, ...]


@cache
def remembered(label: str) -> Remembered | None:
    """None when the label records no history at all (no `__history__` on its class)."""
    cls = node_class(label)
    names: tuple[str, ...] | None = getattr(cls, "__history__", None)
    if names is None:
        return None
    props = property_names(label)
    specs = {spec.name: spec for spec in links_of(label)}
    unknown = [n for n in names if n not in props and n not in specs]
    if unknown:
        raise TypeError(f"{label}.__history__ names what the class does not declare: {unknown}")
    return Remembered(tuple(n for n in names if n in props), tuple(specs[n] for n in names if n in specs))


@cache
def tracked_rels() -> frozenset[tuple[str, str, str]]:
    """(start label, rel, end label) of every edge some declared link tracks."""
    out: set[tuple[str, str, str]] = set()
    for cls in NODE_CLASSES:
        mem = remembered(cls.__label__)
        for spec in mem.links if mem else ():
            start, end = (spec.owner, spec.target) if spec.direction == "out" else (spec.target, spec.owner)
            out.add((start, spec.rel, end))
    return frozenset(out)


def is_tracked(owner: str, rel: str, direction: str, target: str) -> bool:
    start, end = (owner, target) if direction == "out" else (target, owner)
    return (start, rel, end) in tracked_rels()


def project_of(var: str, label: str) -> str:
    """The Gardener project a node of `label` belongs to, from whichever naming its label carries
    (technical ids are `shoot--<project>--<name>`, project namespaces `garden-<project>`)."""
    if label == "Project":
        return f"{var}.name"
    props = property_names(label)
    branches = [f"WHEN {var}.{p} STARTS WITH 'shoot--' THEN split({var}.{p}, '--')[1]"
                for p in ("cluster", "technical_id", "namespace") if p in props]
    if "namespace" in props:
        branches.append(f"WHEN {var}.namespace STARTS WITH 'garden-' THEN substring({var}.namespace, 7)")
    return "CASE " + " ".join(branches) + " END" if branches else "null"


def _common(kind: str) -> str:
    return (f"uid: randomUUID(), kind: '{kind}', observed: $now, pending: $scope, scope: $scope, "
            "run_id: $run_id, source: $source")


def _about(var: str, label: str, props: str = "") -> str:
    """Change fields naming the node concerned, read from variable `var` (or its new row values)."""
    src = props or var
    provider = f"{src}.provider" if "provider" in property_names(label) else "null"
    return (f"node_uid: {var}.uid, node_label: {_lit(label)}, name: {src}.name, "
            f"provider: {provider}, project: {project_of(src, label)}")


# -- upsert ---------------------------------------------------------------------------------------
def capture_node_clauses(label: str) -> list[str]:
    """Between MERGE and SET of the upsert (variables n and row): appeared and changed properties."""
    mem = remembered(label)
    if mem is None:
        return []
    names = "[" + ", ".join(_lit(p) for p in mem.properties) + "]"
    about = _about("n", label, "row.props")
    lines = [
        # A node this engine merged before carries a run_id; one MERGE just created (or one created
        # only as the far end of a link) does not.
        "WITH n, row, n.run_id IS NULL AS appeared",
        f"FOREACH (_ IN CASE WHEN appeared THEN [1] ELSE [] END |\n"
        f"  CREATE (:Change {{{_common('appeared')}, {about}, at: null}})-[:ABOUT]->(n))",
    ]
    if mem.properties:
        lines.append(
            f"FOREACH (k IN CASE WHEN appeared THEN [] ELSE [k IN {names} WHERE k IN keys(row.props)\n"
            "    AND NOT coalesce(n[k] = row.props[k], n[k] IS NULL AND row.props[k] IS NULL)] END |\n"
            f"  CREATE (:Change {{{_common('changed')}, {about},\n"
            "    property: k, before: toString(n[k]), after: toString(row.props[k])})-[:ABOUT]->(n))"
        )
    return lines


def _edge_change(kind: str, start: str, start_label: str, rel: str, end: str, end_label: str) -> str:
    return (
        f"CREATE (c:Change {{{_common(kind)}, node_uid: {start}.uid, node_label: {_lit(start_label)}, "
        f"name: {start}.name, provider: coalesce({start}.provider, {end}.provider), "
        f"project: coalesce({project_of(start, start_label)}, {project_of(end, end_label)}), "
        f"rel: {_lit(rel)}, other_uid: {end}.uid, other_label: {_lit(end_label)}}})"
    )


def unlink_clause(spec: LinkSpec, pattern: str, wanted: str, after: str = "") -> str:
    """Replaces the owned-link deletion: record each stale edge, then delete it (then `after`, lines
    of the same subquery)."""
    start, start_label, end, end_label = (("n", spec.owner, "t", spec.target) if spec.direction == "out"
                                          else ("t", spec.target, "n", spec.owner))
    return (f"CALL (n) {{\n  MATCH {pattern}\n  WHERE NOT ({wanted})\n"
            f"  {_edge_change('unlinked', start, start_label, spec.rel, end, end_label)}\n"
            f"  CREATE (c)-[:ABOUT]->(n), (c)-[:ABOUT]->(t)\n  DELETE r\n{after}}}")


def link_clause(spec: LinkSpec, find: str, owner_var: str, other_var: str, after: str = "") -> str:
    """Replaces `MATCH far end, MERGE edge` for a tracked link: create and record only new edges.
    `owner_var` is the variable of the link's owner, `other_var` of its target; `after`: lines of the
    same subquery, run for each new edge."""
    start, end = (owner_var, other_var) if spec.direction == "out" else (other_var, owner_var)
    start_label, end_label = (spec.owner, spec.target) if spec.direction == "out" else (spec.target, spec.owner)
    edge = f"({start})-[:{_q(spec.rel)}]->({end})"
    return (f"CALL (n) {{\n  MATCH {find}\n  WHERE NOT EXISTS {{ {edge} }}\n  CREATE {edge}\n"
            f"  {_edge_change('linked', start, start_label, spec.rel, end, end_label)}\n"
            f"  CREATE (c)-[:ABOUT]->({start}), (c)-[:ABOUT]->({end})\n{after}}}")


# -- sweep ----------------------------------------------------------------------------------------
def capture_sweep_clauses(label: str) -> list[str]:
    """Between choosing the nodes to sweep (variable n) and DETACH DELETE: gone, and tracked edges."""
    if remembered(label) is None:
        return []
    lines = [f"CREATE (:Change {{{_common('gone')}, {_about('n', label)}}})", "WITH n"]
    for start, rel, end in sorted(tracked_rels()):
        if start == label:
            lines.append(f"CALL (n) {{\n  MATCH (n)-[:{_q(rel)}]->(o:{_q(end)})\n"
                         f"  {_edge_change('unlinked', 'n', start, rel, 'o', end)}\n"
                         "  CREATE (c)-[:ABOUT]->(o)\n}")
        if end == label:
            lines.append(f"CALL (n) {{\n  MATCH (o:{_q(start)})-[:{_q(rel)}]->(n)\n"
                         f"  {_edge_change('unlinked', 'o', start, rel, 'n', end)}\n"
                         "  CREATE (c)-[:ABOUT]->(o)\n}")
    return lines


# -- publishing -----------------------------------------------------------------------------------
def publish_clause(at: str = "$at") -> str:
    """Cypher lines after a clause binding `c` to pending Changes: publish them (`at` = the Cypher
    expression `at`), then `WITH c`. Every statement that publishes goes through here (the end of a
    complete read: cypher.finish_query; a watch batch: engine.change_query).

    The unlinked changes published here also leave their mark on the resource that lost the edge, when
    the edge made it needed (graph_schema.cloud.NEEDED_BY_RELS): `lost_edge_at` and `lost_edge`. The
    orphan report returns them with each row (graphinv/history/lifecycle.py) instead of looking up the
    last such change per row. Set on publication, not on capture, so the mark says no more than the
    published history: a failed read's unlinks stay pending and invisible, here as in the history.
    The end node of the edge is the resource; its ABOUT edge finds it (a swept resource has none)."""
    rels = "[" + ", ".join(_lit(rel) for rel in NEEDED_BY_RELS) + "]"
    return (f"SET c.at = {at}, c.pending = null\n"
            "WITH c\n"
            "CALL (c) {\n"
            f"  WITH c WHERE c.kind = 'unlinked' AND c.rel IN {rels}\n"
            f"  MATCH (c)-[:ABOUT]->(r) WHERE r.uid = c.other_uid AND {LOST_EDGE_IS_NEWER}\n"
            f"  {MARK_LOST_EDGE}\n"
            "}\n")


# How published unlinked change `c` marks resource `r` (publish_clause, and the fill-in of an older graph:
# graphinv.ingest.schema): only a loss at least as recent as the one `r` holds replaces it.
LOST_EDGE_IS_NEWER = "NOT coalesce(r.lost_edge_at > c.at, false)"
MARK_LOST_EDGE = "SET r.lost_edge_at = c.at, r.lost_edge = [c.node_label, c.node_uid, c.rel]"
