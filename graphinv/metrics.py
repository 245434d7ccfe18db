"""Prometheus metrics of the scheduler: collection jobs and scopes, orphans, alert notifications.

Every `Metrics` owns its own `CollectorRegistry` (never prometheus_client's global one), so two
schedulers in one process, or two tests, never see each other's numbers.

Label sets are kept small on purpose: `source` and `kind` (a handful of values each) on the
counters and histograms; the scope key (account x region x kind, hundreds in a real landscape)
only on one gauge, the last complete read per scope, which is what a staleness alert needs.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from collectors.scope import Scope

# Reads of one scope take from well under a second (a small region) to tens of minutes (a big
# account paged through a throttled API).
SCOPE_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 3600)
JOB_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1200, 3600, 7200)
WATCH_LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    """All graphinv metrics on one private registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        # -- collection jobs (one per source, or per source and kind group) --------------------
        self.job_runs = Counter("graphinv_job_runs", "Finished runs of a scheduled job, after retries.",
                                ["job", "status"], registry=r)
        self.job_attempts = Counter("graphinv_job_attempts", "Attempts of a scheduled job, retries included.",
                                    ["job"], registry=r)
        self.job_retries = Counter("graphinv_job_retries", "Retries of a scheduled job after a failed attempt.",
                                   ["job"], registry=r)
        self.job_skipped = Counter("graphinv_job_skipped",
                                   "Runs not started because the previous run of the job was still going.",
                                   ["job"], registry=r)
        self.job_duration = Histogram("graphinv_job_duration_seconds", "Wall time of a job run, retries included.",
                                      ["job"], buckets=JOB_BUCKETS, registry=r)
        # -- scopes ---------------------------------------------------------------------------
        self.scope_runs = Counter("graphinv_scope_runs", "Reads of one scope, by outcome.",
                                  ["source", "kind", "status"], registry=r)
        self.scope_failures = Counter("graphinv_scope_failures", "Reads of one scope that failed.",
                                      ["source", "kind"], registry=r)
        self.scope_duration = Histogram("graphinv_scope_duration_seconds", "Time to read and write one scope.",
                                        ["source", "kind"], buckets=SCOPE_BUCKETS, registry=r)
        self.scope_last_complete = Gauge("graphinv_scope_last_complete_timestamp_seconds",
                                         "Unix time the scope's last complete read finished.",
                                         ["source", "scope"], registry=r)
        self.resources_collected = Counter("graphinv_resources_collected", "Nodes written by scope reads, by label.",
                                           ["source", "kind"], registry=r)
        self.resources_swept = Counter("graphinv_resources_swept", "Stale nodes deleted after complete reads.",
                                       ["source", "kind"], registry=r)
        # -- orphans and alerts ---------------------------------------------------------------
        self.orphans = Gauge("graphinv_orphans", "Orphans (and unverified candidates) at the last orphan alert run.",
                             ["provider", "kind", "verdict"], registry=r)
        self.orphan_cost = Gauge("graphinv_orphan_cost_usd_monthly",
                                 "Estimated monthly list-price cost of the orphans at the last orphan alert run.",
                                 ["provider", "kind"], registry=r)
        self.alert_runs = Counter("graphinv_alert_runs", "Runs of an alert script, by outcome.",
                                  ["alert", "status"], registry=r)
        self.alert_open_findings = Gauge("graphinv_alert_open_findings", "Open findings of an alert.",
                                         ["alert"], registry=r)
        self.alert_new_findings = Counter("graphinv_alert_new_findings", "Findings seen for the first time.",
                                          ["alert"], registry=r)
        self.notifications = Counter("graphinv_alert_notifications",
                                     "Notifications handed to a sink, after retries: sent or failed.",
                                     ["sink", "status"], registry=r)
        self.notification_retries = Counter("graphinv_alert_notification_retries",
                                            "Delivery attempts repeated after a sink error.", ["sink"], registry=r)
        # -- watches (graphinv/watch): one label value per watched resource (garden kinds, seeds) ----
        self.watch_connected = Gauge("graphinv_watch_connected", "1 while the watch streams from the API server.",
                                     ["watch"], registry=r)
        self.watch_events = Counter("graphinv_watch_events_applied", "Watch events applied to the graph.",
                                    ["watch", "type"], registry=r)
        self.watch_restarts = Counter("graphinv_watch_restarts",
                                      "Reconnects and re-lists of a watch (410, broken stream, 401, errors).",
                                      ["watch"], registry=r)
        self.watch_last_event_age = Gauge("graphinv_watch_last_event_age_seconds",
                                          "Seconds since the watch last applied an event (-1: none yet).",
                                          ["watch"], registry=r)
        self.watch_lag = Gauge("graphinv_watch_lag_seconds",
                               "Receive-to-commit seconds of the newest applied event of the watch.", ["watch"],
                               registry=r)
        self.watch_lag_all = Histogram("graphinv_watch_event_lag_seconds",
                                       "Receive-to-commit seconds of every applied watch event.",
                                       buckets=WATCH_LAG_BUCKETS, registry=r)

    # -- recording helpers (so callers do not repeat label plumbing) ---------------------------
    def record_scope(self, scope: Scope, status: str, seconds: float | None, written: Mapping[str, int],
                     swept: Mapping[str, int], finished_at: float) -> None:
        self.scope_runs.labels(scope.source, scope.kind, status).inc()
        if status != "complete":
            self.scope_failures.labels(scope.source, scope.kind).inc()
        else:
            self.scope_last_complete.labels(scope.source, scope.key).set(finished_at)
        if seconds is not None:
            self.scope_duration.labels(scope.source, scope.kind).observe(seconds)
        for label, count in written.items():
            self.resources_collected.labels(scope.source, label).inc(count)
        for label, count in swept.items():
            self.resources_swept.labels(scope.source, label).inc(count)

    def record_orphans(self, provider: str, kind: str | None, rows: Iterable[Mapping[str, Any]]) -> None:
        """Set the orphan gauges of one provider (and kind, or every kind) from an orphan report."""
        kinds = (kind,) if kind else ("instance", "disk", "ip")
        counts: dict[tuple[Any, Any], int] = {(k, v): 0 for k in kinds for v in ("orphan", "unverified")}
        for row in rows:
            key = (row.get("kind"), row.get("verdict"))
            if key in counts:
                counts[key] += 1
        for (k, verdict), n in counts.items():
            self.orphans.labels(provider, k, verdict).set(n)
        cost = {k: 0.0 for k in kinds}
        for row in rows:
            if row.get("verdict") == "orphan" and row.get("kind") in cost:
                cost[row["kind"]] += float(row.get("est_monthly_cost_usd") or 0)
        for k, usd in cost.items():
            self.orphan_cost.labels(provider, k).set(round(usd, 2))

    # -- watches: called by graphinv.watch.stream.ResourceWatch --------------------------------
    def watch_started(self, watch: Any) -> None:
        self.watch_connected.labels(watch.name).set(0)
        self.watch_restarts.labels(watch.name)

        def age() -> float:
            last = watch.status.last_event_at
            return -1.0 if last is None else max(0.0, time.time() - last)

        self.watch_last_event_age.labels(watch.name).set_function(age)

    def watch_connected_changed(self, watch: Any) -> None:
        self.watch_connected.labels(watch.name).set(1 if watch.status.connected else 0)

    def watch_restarted(self, watch: Any) -> None:
        self.watch_restarts.labels(watch.name).inc()

    def watch_applied(self, watch: Any, changes: Iterable[Any], committed: float) -> None:
        lag = None
        for change in changes:
            self.watch_events.labels(watch.name, change.type).inc()
            lag = committed - change.received
            self.watch_lag_all.observe(lag)
        if lag is not None:
            self.watch_lag.labels(watch.name).set(lag)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
