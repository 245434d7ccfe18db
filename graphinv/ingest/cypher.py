"""Cypher generated from the model classes: one upsert statement per label, one sweep statement.

The upsert writes a whole batch in one round trip: MERGE on the natural key, properties replaced
from the record (`+=` with nulls removes fields that disappeared), then each declared link:
edges this node owns are brought in line with its reference properties (stale ones deleted,
missing ones merged if the far end exists), and links other labels declare into this one are
resolved from their side, so an edge appears whichever end is written first.

Planning, not running, is what these statements cost Neo4j: a warm upsert of a few hundred rows
runs in about a millisecond, while planning one with its link and change-capture subqueries takes
half a second or more of server CPU. So the texts are few (one upsert per label for every provider,
see `upsert_query`) and each keeps its first plan (`KEEP_PLAN`).
"""

from __future__ import annotations

from functools import cache

from neomodel import DateTimeNeo4jFormatProperty, DateTimeProperty

from graph_schema.base import LinkSpec
from graph_schema.registry import NODE_CLASSES, links_into, links_of, node_class, property_names
from graph_schema.surfaces import claim_flag, record_properties
from graphinv.ingest import changes

# Neo4j replans a cached statement whenever the counts it was planned with have grown by more than
# a threshold, which during a first collection into a growing graph means every statement again and
# again (each replan as costly as the first plan). The plans of these statements do not depend on
# counts: every node is found by a unique or range index seek from a parameter, an unwound row or a
# bound node, or by expanding from a bound node; tests/test_query_plans.py checks that a plan made
# on an empty graph scans no label, so the plan kept from then on is the one a full graph would get.
KEEP_PLAN = "CYPHER replan=skip\n"


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _edge(src: str, rel: str, dst: str) -> str:
    return f"({src})-[:{_q(rel)}]->({dst})"


def _claim(end_label: str, rel: str, end_var: str, value: str) -> str:
    """`SET` of the ClaimFlag (graph_schema.base) an edge of `rel` ending at `end_var` sets or clears,
    as a line of a subquery; empty when the end's label keeps no flag for `rel`."""
    flag = claim_flag(end_label)
    if flag is None or rel not in flag[1]:
        return ""
    return f"  SET {end_var}.{_q(flag[0])} = {value}\n"


def claimed_from_edges(var: str, rels: tuple[str, ...]) -> str:
    """Cypher: what node `var`'s ClaimFlag (graph_schema.base) should say, read from its edges."""
    return f"EXISTS {{ ({var})<-[:{'|'.join(_q(r) for r in rels)}]-() }}"


def _owned_link_clauses(label: str, capture: bool = False) -> list[str]:
    clauses: list[str] = []
    groups: dict[tuple[str, str, str], list[LinkSpec]] = {}
    for spec in links_of(label):
        groups.setdefault((spec.rel, spec.direction, spec.target), []).append(spec)
    for (rel, direction, target), specs in groups.items():
        pattern = (f"(n)-[r:{_q(rel)}]->(t:{_q(target)})" if direction == "out"
                   else f"(n)<-[r:{_q(rel)}]-(t:{_q(target)})")
        wanted = " OR ".join(
            f"coalesce(t.{_q(s.target_key)} = n.{_q(s.via)}, false)" for s in specs
        )
        end_var, end_label = ("t", target) if direction == "out" else ("n", label)
        released, claimed = _claim(end_label, rel, end_var, "false"), _claim(end_label, rel, end_var, "true")
        if capture and changes.is_tracked(label, rel, direction, target):
            clauses.append(changes.unlink_clause(specs[0], pattern, wanted, after=released))
        else:
            clauses.append(f"CALL (n) {{\n  MATCH {pattern}\n  WHERE NOT ({wanted})\n  DELETE r\n{released}}}")
        for s in specs:
            edge = _edge("n", rel, "t") if direction == "out" else _edge("t", rel, "n")
            find = f"(t:{_q(target)} {{{_q(s.target_key)}: n.{_q(s.via)}}})"
            if s.create_missing:
                copies = ", ".join(f"t.{_q(tp)} = n.{_q(op)}" for tp, op in s.create_missing)
                clauses.append(
                    f"CALL (n) {{\n  WITH n WHERE n.{_q(s.via)} IS NOT NULL\n  MERGE {find}\n"
                    f"  ON CREATE SET {copies}, t.first_seen = $now, t.last_seen = $now, t.source = $source\n"
                    f"  MERGE {edge}\n{claimed}}}"
                )
            elif capture and changes.is_tracked(label, rel, direction, target):
                clauses.append(changes.link_clause(s, find, "n", "t", after=claimed))
            else:
                clauses.append(f"CALL (n) {{\n  MATCH {find}\n  MERGE {edge}\n{claimed}}}")
    return clauses


def _incoming_link_clauses(label: str, capture: bool = False) -> list[str]:
    clauses = []
    for s in links_into(label):
        if s.create_missing:
            # The owner's own upsert merges this far end and the edge (`create_missing` above), so
            # every owner with the key already has its edge. Resolving it again from here would
            # touch every owner in the region or account each time the shared node is written,
            # which grows with the landscape times the number of scopes.
            continue
        end_var, end_label = ("n", label) if s.direction == "out" else ("src", s.owner)
        claimed = _claim(end_label, s.rel, end_var, "true")
        if capture and changes.is_tracked(s.owner, s.rel, s.direction, label):
            find = f"(src:{_q(s.owner)} {{{_q(s.via)}: n.{_q(s.target_key)}}})"
            clauses.append(changes.link_clause(s, find, "src", "n", after=claimed))
            continue
        edge = _edge("src", s.rel, "n") if s.direction == "out" else _edge("n", s.rel, "src")
        clauses.append(
            f"CALL (n) {{\n  MATCH (src:{_q(s.owner)} {{{_q(s.via)}: n.{_q(s.target_key)}}})\n"
            f"  MERGE {edge}\n{claimed}}}"
        )
    return clauses


@cache
def time_properties(label: str) -> tuple[str, ...]:
    """The label's DateTime properties a record carries: rows hold them as epoch microseconds
    (engine.record_row); the engine's own (first_seen, last_seen) come as parameters."""
    props = record_properties(node_class(label))
    return tuple(sorted(name for name, prop in props.items()
                        if isinstance(prop, DateTimeNeo4jFormatProperty | DateTimeProperty)))


def from_micros(expr: str) -> str:
    """A DateTime (UTC) from integer epoch microseconds `expr`; floor division, so also before 1970."""
    seconds = f"({expr} - (({expr} % 1000000) + 1000000) % 1000000) / 1000000"
    return f"datetime({{epochSeconds: {seconds}, nanosecond: ((({expr} % 1000000) + 1000000) % 1000000) * 1000}})"


def _unpack_times(label: str) -> list[str]:
    """Turn each time property a row carries as an integer back into a DateTime before anything reads
    `row.props`; a property the row does not carry, or carries otherwise (null, a DateTime), is left
    as it is, so `n += row.props` still removes a null and never adds a key the row lacked."""
    names = time_properties(label)
    if not names:
        return []
    lines = ["WITH row.uid AS uid, row.props AS props, row.hash AS hash"]
    for name in names:
        value = f"props.{_q(name)}"
        # `IS :: INTEGER NOT NULL`: a bare `IS :: INTEGER` holds for null too
        lines.append(f"WITH uid, hash, CASE WHEN {value} IS :: INTEGER NOT NULL "
                     f"THEN props {{.*, {_q(name)}: {from_micros(value)}}} ELSE props END AS props")
    lines.append("WITH {uid: uid, props: props, hash: hash} AS row")
    return lines


def _refresh_unchanged(label: str) -> list[str]:
    """A row whose node already holds exactly this record (same `content_hash`, same scope) only has
    its last_seen and run_id refreshed, which is all a sweep and the orphan rules read from a re-read;
    the rest of the statement (properties, links, change capture) runs for the other rows alone.
    Most rows of a re-collection are unchanged, and writing them whole was most of Neo4j's work.
    A row without a hash (null) never matches, so it is always written whole."""
    # The hint: planned on an empty graph (KEEP_PLAN), a seek on the scope index looked as cheap as
    # one on uid, and a kept scope seek per row is quadratic in the scope's size; SEEK, because with
    # fresh statistics Neo4j may scan the named index instead.
    return [
        f"OPTIONAL MATCH (same:{_q(label)} {{uid: row.uid}}) USING INDEX SEEK same:{_q(label)}(uid)",
        "  WHERE same.content_hash = row.hash AND same.scope = $scope AND same.source = $source",
        "SET same.last_seen = $now, same.run_id = $run_id",  # a no-op where `same` is null
        "WITH row WHERE same IS NULL",
    ]


@cache
def has_provider_label(label: str) -> bool:
    """Nodes of `label` carry their cloud's label (AWS, GCP, ...) besides their own: the label has a
    `provider` property (graph_schema.cloud.PROVIDER_LABELS)."""
    return "provider" in property_names(label)


@cache
def upsert_query(label: str, capture: bool = False, rows: str = "$batch.rows",
                 extra_labels: str = "$batch.extra_labels") -> str:
    """`capture`: also record what changed (graphinv/ingest/changes.py); needs $scope and $source.
    Time properties may come as integer epoch microseconds (the engine sends them so) or DateTimes.
    A label with a provider takes `extra_labels`, the list of further labels to set (the provider's
    label, or none): data rather than part of the text, so all providers share one statement and
    Neo4j plans it once, not once per provider (planning, not running, is most of its cost).

    Both lists come as fields of one map parameter, $batch, never as list parameters of their own:
    Neo4j keys its plan cache by the text AND by each list parameter's size, rounded to a power of
    ten (1, up to 10, up to 100, up to 1,000 rows), and by whether a list is empty. Batches of 7,
    60 and 700 rows, or with and without a provider label, would each be planned anew (measured: a
    third of a second of server CPU for the Instance upsert, every time). A map hides the sizes, so
    one plan serves every batch; the plan itself is the same. `rows` and `extra_labels` name other
    places for them: the fields of a map a larger statement unwinds (engine.change_query)."""
    lines = [
        f"{KEEP_PLAN}UNWIND {rows} AS row",
        *_refresh_unchanged(label),
        *_unpack_times(label),
        f"MERGE (n:{_q(label)} {{uid: row.uid}})",
        "ON CREATE SET n.first_seen = $now",
        *(changes.capture_node_clauses(label) if capture else []),
        "SET n += row.props, n.content_hash = row.hash, n.last_seen = $now, n.source = $source, "
        "n.scope = $scope, n.run_id = $run_id",
    ]
    if has_provider_label(label):
        lines.append(f"SET n:$({extra_labels})")
    clauses = _owned_link_clauses(label, capture) + _incoming_link_clauses(label, capture)
    if clauses:
        lines.append("WITH n")
        lines.extend(clauses)
    flag = claim_flag(label)
    if flag is not None:  # exact for every node written whole, whatever the clauses above did
        lines.append(f"SET n.{_q(flag[0])} = {claimed_from_edges('n', flag[1])}")
    lines.append("RETURN count(n) AS rewritten")
    return "\n".join(lines)


@cache
def relink_query(label: str) -> str:
    """Resolve again every link of one scope's `label` nodes, both ends (needs $scope, $now, $source).

    With one writer the upsert's link clauses see every committed node. Concurrent writers (the
    distributed workers) can each commit one end while the other end is still uncommitted, so neither
    upsert sees the other and the edge is lost. Running this after the scope committed closes that gap:
    of two racing scopes, the one that commits last runs it after both ends are visible.
    """
    clauses = _owned_link_clauses(label) + _incoming_link_clauses(label)
    if not clauses:
        return ""
    return "\n".join([f"{KEEP_PLAN}MATCH (n:{_q(label)} {{scope: $scope}})", "WITH n", *clauses,
                      "RETURN count(n) AS relinked"])


@cache
def stamped_labels() -> tuple[str, ...]:
    """Labels that declare `owner_changed_at`: the nodes a Machine or Shoot points at (its VMs, disks,
    addresses), stamped when their owner changes or goes (docs/ownership.md, section 6)."""
    return tuple(c.__label__ for c in NODE_CLASSES if "owner_changed_at" in property_names(c.__label__))


def stamp_owned_clause(var: str, at: str) -> str:
    """Stamp what node `var` points at with `owner_changed_at` = `at` (a Cypher expression)."""
    which = " OR ".join(f"t:{_q(label)}" for label in stamped_labels()) or "false"
    return f"CALL ({var}) {{\n  MATCH ({var})-->(t) WHERE {which}\n  SET t.owner_changed_at = {at}\n}}"


@cache
def release_claims_clause(label: str, var: str = "n") -> str:
    """Before node `var` (a `label` node) is deleted: the nodes it claims (graph_schema.base.ClaimFlag)
    are flagged unclaimed, as far as the flag knows (another claim is found again by the query that
    reads the flag). Empty for labels that claim nothing."""
    parts = []
    for cls in NODE_CLASSES:
        flag = claim_flag(cls.__label__)
        if flag is None:
            continue
        target, (name, rels) = cls.__label__, flag
        out = {s.rel for s in links_of(label) if s.direction == "out" and s.target == target and s.rel in rels}
        out |= {s.rel for s in links_of(target) if s.direction == "in" and s.target == label and s.rel in rels}
        if out:
            kinds = "|".join(_q(r) for r in sorted(out))
            parts.append(f"CALL ({var}) {{\n  MATCH ({var})-[:{kinds}]->(t:{_q(target)})\n"
                         f"  SET t.{_q(name)} = false\n}}\n")
    return "".join(parts)


@cache
def stale_query(label: str) -> str:
    """Whether a scope holds `label` nodes the current run did not see (needs $scope, $run_id): the
    sweep's own selection, asked before the sweep. Most complete reads sweep nothing, and this
    statement is planned in a moment, while the sweep's (owner stamps, change capture) costs Neo4j
    far more to plan than to run: it is planned only when there is something to sweep."""
    return (f"MATCH (n:{_q(label)} {{scope: $scope}}) WHERE n.run_id <> $run_id\n"
            "WITH n LIMIT 1\nRETURN count(n) AS stale")


@cache
def sweep_query(label: str, capture: bool = False) -> str:
    """Delete, in bounded chunks, nodes of a scope that the current complete run did not see.
    `capture`: record them as gone, with their tracked edges (needs $now and $source).

    A swept owner (a Machine, Shoot or Bastion the complete read no longer lists) stamps what it
    pointed at, exactly as a watch's DELETED event does: its VM's absence of a Machine is newer than
    the VM's last cloud read, so the VM is unverified, not an orphan, until a cloud read confirms.
    The stamp is the sweep's own moment (`datetime()`, not the read's start): the owner went at some
    point while the read ran, and only a cloud read after that proves anything."""
    captured = "".join(line + "\n" for line in changes.capture_sweep_clauses(label)) if capture else ""
    stamp = "" if label in stamped_labels() else stamp_owned_clause("n", "datetime()") + "\n"
    return (
        f"{KEEP_PLAN}MATCH (n:{_q(label)} {{scope: $scope}}) WHERE n.run_id <> $run_id\n"
        "WITH n LIMIT $limit\n"
        f"{stamp}"
        f"{captured}"
        f"{release_claims_clause(label)}"
        "DETACH DELETE n\n"
        "RETURN count(*) AS swept"
    )


@cache
def finish_query(labels: tuple[str, ...], capture: bool = False) -> str:
    """The end of a complete read of a scope holding `labels`, as ONE statement: whether the scope
    holds nodes the run did not see (per label, `stale_query`'s selection); when none, the first
    $limit of the scope's pending changes published (`capture`; changes.publish_clause); when none is
    left to publish, the Collection recorded complete. Returns `stale` (a count per label, 0 or 1)
    and `promoted`; the Collection was recorded when no count is 1 and `promoted` < $limit.
    Needs $scope, $run_id, $limit, $at and the Collection's $key, $now, $finished, $written, $swept.

    One statement, not one per part: Neo4j runs each part in well under a millisecond, while every
    statement costs the writer a round trip, and a collection ends hundreds of scopes."""
    parts = [f"CALL () {{\n  MATCH (n:{_q(label)} {{scope: $scope}}) WHERE n.run_id <> $run_id\n"
             f"  WITH n LIMIT 1\n  RETURN count(n) AS stale{i}\n}}" for i, label in enumerate(labels)]
    parts.append("WITH [" + ", ".join(f"stale{i}" for i in range(len(labels))) + "] AS stale")
    if capture:
        publish = "".join("  " + line + "\n" for line in changes.publish_clause().splitlines())
        parts.append("CALL (stale) {\n  WITH stale WHERE NOT 1 IN stale\n  MATCH (c:Change {pending: $scope})\n"
                     f"  WITH c LIMIT $limit\n{publish}  RETURN count(c) AS promoted\n}}")
    else:
        parts.append("WITH stale, 0 AS promoted")
    parts.append("CALL (stale, promoted) {\n  WITH stale, promoted WHERE NOT 1 IN stale AND promoted < $limit\n"
                 "  MATCH (c:Collection {uid: $key}) WHERE c.run_id = $run_id\n"
                 "  SET c.status = 'complete', c.finished = $finished, c.written = $written, c.swept = $swept,\n"
                 "      c.error = null, c.last_complete_started = $now, c.last_complete_finished = $finished\n}")
    parts.append("RETURN stale, promoted")
    return KEEP_PLAN + "\n".join(parts)
