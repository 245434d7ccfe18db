"""The scheduler prunes changes past the retention (a history job of its own) and delivers change
events on a thread of its own."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from collectors.records import InstanceRecord
from collectors.scope import Scope
from graphinv.alerts.settings import AlertSettings
from graphinv.db import Graph
from graphinv.history.settings import HistorySettings
from graphinv.ingest import Ingest, install_schema
from graphinv.scheduler.service import SchedulerService
from tests.support.scheduling import WAIT, fast
from tests.support.webhooks import Receiver

VMS = Scope("aws", "111", "eu-west-1", "Instance")


def test_scheduler_prunes_old_changes_and_delivers_new_ones(graph: Graph) -> None:
    install_schema(graph)
    with Ingest(graph).scope(VMS) as run:
        run.write([InstanceRecord(uid="i-old", provider="aws", account_id="111", region="eu-west-1", name="old")])
    # Age the change past a one-day retention.
    graph.run_write("MATCH (c:Change) SET c.at = $old", {"old": datetime.now(UTC) - timedelta(days=2)})
    receiver = Receiver()
    history = HistorySettings.model_validate({"retention": "1d", "prune_every": "1h", "poll_interval": "200ms",
                                              "settle": "300ms", "webhooks": [{"name": "w", "url": receiver.url}]})
    service = SchedulerService(graph, fast(), lambda source: [], AlertSettings(), {}, sinks=[], history=history)
    service.start(serve_status=False)
    try:
        deadline = time.monotonic() + WAIT
        # The prune job commits its delete before it counts it: wait for both.
        while ((graph.run_read("MATCH (c:Change) RETURN count(c) AS n")[0]["n"] or not service.history.pruned)
               and time.monotonic() < deadline):
            time.sleep(0.1)
        assert graph.run_read("MATCH (c:Change) RETURN count(c) AS n")[0]["n"] == 0
        assert service.history.pruned == 1
        while graph.run_read("MATCH (c:ChangeCursor) RETURN count(c) AS n")[0]["n"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        # The scope's next complete read has i-new, not i-old: two changes, one event each.
        with Ingest(graph).scope(VMS) as run:
            run.write([InstanceRecord(uid="i-new", provider="aws", account_id="111", region="eu-west-1")])
        assert receiver.wait(lambda r: len(r.accepted) >= 2, WAIT)
        time.sleep(1.0)  # several poll intervals: anything else (the pruned change) would come now
        events = sorted((body["data"]["kind"], body["data"]["node_uid"]) for body in receiver.bodies)
        assert events == [("appeared", "i-new"), ("gone", "i-old")], events
    finally:
        assert service.shutdown(WAIT)
        receiver.close()
