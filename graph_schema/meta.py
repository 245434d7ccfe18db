"""Collection: what the engine knows about each scope's reads, so queries can judge freshness."""

from __future__ import annotations

from neomodel import BooleanProperty, DateTimeNeo4jFormatProperty, IntegerProperty, StringProperty

from graph_schema.base import GraphNode


class Collection(GraphNode):
    """One node per scope (uid = the scope key). `last_complete_started` only moves forward when a
    read of the whole scope succeeded; a failed read records `status=failed` and keeps it."""

    kind = StringProperty(index=True)
    account = StringProperty(index=True)
    region = StringProperty()
    status = StringProperty(index=True)  # running | complete | failed
    started = DateTimeNeo4jFormatProperty()
    finished = DateTimeNeo4jFormatProperty()
    last_complete_started = DateTimeNeo4jFormatProperty()
    last_complete_finished = DateTimeNeo4jFormatProperty()
    written = IntegerProperty()
    swept = IntegerProperty()
    error = StringProperty()
    owner = StringProperty()  # host:pid of the process reading it; lets a later run fail a dead one's scope
    # when its reader last said it was still reading: a `running` scope silent too long is taken for
    # abandoned (graphinv.collect.LEASE_SECONDS)
    heartbeat = DateTimeNeo4jFormatProperty()
    watched = BooleanProperty()  # a live watch serves the scope right now (graphinv/watch); null: never watched


class Backfill(GraphNode):
    """A one-time fill-in of what a graph written by an older graphinv lacks (graphinv/ingest/schema.py),
    recorded when it finished (uid = its name), so later starts skip it."""

    finished = DateTimeNeo4jFormatProperty()
    filled = IntegerProperty()  # nodes it set
