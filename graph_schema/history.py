"""What the graph remembers: changes the ingest engine saw, and the lifecycle of orphan findings.

Which properties and links of a label are worth remembering is declared on the node class itself,
as `__history__`: a tuple of property names and link attribute names. A label without it records
nothing (accounts, regions, bookkeeping nodes). `last_seen`, `run_id` and the like are never in it:
seeing a node again is not a change.

A `Change` keeps the uid, label, provider and project of the node it concerns, so it stays
queryable after that node is swept; while the node exists, `(:Change)-[:ABOUT]->(node)` links them.
Changes are written pending (`pending` = the scope key) in the same transaction as the data, and
become visible (`at` set) when the read of the scope completes; a failed or partial read leaves
them pending until the next complete read of that scope.
"""

from __future__ import annotations

from neomodel import DateTimeNeo4jFormatProperty, IntegerProperty, StringProperty

from graph_schema.base import GraphNode

CHANGE_KINDS = ("appeared", "changed", "gone", "linked", "unlinked")


class Change(GraphNode):
    """One change (uid = the event id). `node_*` name the node concerned; for `linked`/`unlinked`
    that is the edge's start node and `other_*` its end node."""

    kind = StringProperty(index=True)  # appeared | changed | gone | linked | unlinked
    at = DateTimeNeo4jFormatProperty(index=True)  # when it became visible (the read completed)
    observed = DateTimeNeo4jFormatProperty()  # when the read that saw it began
    pending = StringProperty(index=True)  # scope key while its read has not completed yet
    node_uid = StringProperty(index=True)
    node_label = StringProperty()
    name = StringProperty()
    provider = StringProperty(index=True)
    project = StringProperty(index=True)
    property = StringProperty()  # for `changed`
    before = StringProperty()  # the old value as text (null: absent)
    after = StringProperty()  # the new value as text (null: absent)
    rel = StringProperty()  # for `linked` / `unlinked`
    other_uid = StringProperty(index=True)
    other_label = StringProperty()


class OrphanFinding(GraphNode):
    """One resource's time as an orphan (uid = `<kind>:<resource uid>`). Opened when a report first
    judges it orphan on complete data, closed (`closed_at`) when it is judged again and no longer is
    one (re-attached, or gone). A later orphaning reopens it with a new `orphan_since`."""

    kind = StringProperty(index=True)
    resource_uid = StringProperty(index=True)
    provider = StringProperty(index=True)
    account = StringProperty()
    project = StringProperty()
    orphan_since = DateTimeNeo4jFormatProperty(index=True)
    closed_at = DateTimeNeo4jFormatProperty()
    close_reason = StringProperty()
    evidence = StringProperty()


class OrphanAck(GraphNode):
    """A person's acknowledgement of a finding (uid = the resource uid): not alerted, hidden from
    reports without --acked, until `until` passes."""

    reason = StringProperty()
    by = StringProperty()
    at = DateTimeNeo4jFormatProperty()
    until = DateTimeNeo4jFormatProperty(index=True)


class ChangeCursor(GraphNode):
    """How far one subscriber (a webhook sink, the Slack digest) has read the changes (uid = its
    name): the (at, uid) of the last change it delivered. Changes after it form its outbox."""

    at = DateTimeNeo4jFormatProperty()
    last_uid = StringProperty()
    delivered = IntegerProperty()
    last_error = StringProperty()
    failures = IntegerProperty()
