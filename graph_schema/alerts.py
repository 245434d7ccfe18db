"""Alert bookkeeping: each run of an alert script, and each finding it has ever reported.

A finding's uid is `<alert>:<key>`, so one row of one alert is one node however often it is seen.
`notified` lists the sinks that have announced the current opening of the finding; a finding is
announced to a sink exactly when it is open and that sink is not in the list, which makes a failed
delivery come back on the next run instead of being lost, and a delivered one never repeat.
These nodes are written by graphinv.alerts.store, never by the ingest engine, so no scope sweeps them.
"""

from __future__ import annotations

from neomodel import ArrayProperty, BooleanProperty, DateTimeNeo4jFormatProperty, IntegerProperty, StringProperty

from graph_schema.base import GraphNode


class AlertRun(GraphNode):
    """One run of one alert (uid = the run id)."""

    alert = StringProperty(index=True)
    started = DateTimeNeo4jFormatProperty(index=True)
    finished = DateTimeNeo4jFormatProperty()
    status = StringProperty()  # running | complete | failed
    rows = IntegerProperty()
    findings = IntegerProperty()
    new = IntegerProperty()
    resolved = IntegerProperty()
    error = StringProperty()


class AlertFinding(GraphNode):
    """One thing an alert found (uid = `<alert>:<key>`); `first_seen`/`last_seen` come from GraphNode."""

    alert = StringProperty(index=True)
    key = StringProperty()
    severity = StringProperty()
    resolved = BooleanProperty(index=True, default=False)
    opened = DateTimeNeo4jFormatProperty()  # start of the current opening (a resolved finding may reopen)
    resolved_at = DateTimeNeo4jFormatProperty()
    data = StringProperty()  # the row as JSON, for notifications and people
    notified = ArrayProperty(StringProperty())  # sinks that announced the current opening
