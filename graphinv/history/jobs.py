"""The scheduler's history jobs: pruning changes past the retention, and delivering change events
(webhooks, Slack digest) on a thread of their own, so a slow receiver never delays a collection."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from graphinv.db import Graph
from graphinv.history.delivery import deliver_forever
from graphinv.history.settings import HistorySettings
from graphinv.history.store import prune
from graphinv.redact import redact

log = logging.getLogger(__name__)
PRUNE_JOB = "history:prune"


class HistoryJobs:
    def __init__(self, graph: Graph, settings: HistorySettings, stop: threading.Event) -> None:
        self.graph = graph
        self.settings = settings
        self.stop = stop
        self.pruned = 0
        self.delivery: threading.Thread | None = None

    def add_to(self, scheduler: Any) -> None:
        """An interval job on the (APScheduler) scheduler, first run right away."""
        scheduler.add_job(self.prune, "interval", seconds=self.settings.prune_every.total_seconds(), id=PRUNE_JOB,
                          name=PRUNE_JOB, next_run_time=datetime.now(UTC))

    def prune(self) -> int:
        try:
            count = prune(self.graph, self.settings.retention)
        except Exception as exc:  # the graph away: the next run prunes
            log.warning("pruning changes failed: %s", redact(f"{type(exc).__name__}: {exc}"))
            return 0
        self.pruned += count
        if count:
            log.info("pruned %d changes older than %s", count, self.settings.retention)
        return count

    def start_delivery(self) -> None:
        if not self.settings.webhooks and self.settings.slack is None:
            return
        self.delivery = threading.Thread(target=deliver_forever, args=(self.graph, self.settings, self.stop),
                                         name="history-delivery", daemon=True)
        self.delivery.start()
