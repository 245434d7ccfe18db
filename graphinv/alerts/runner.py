"""One run of one alert: evaluate it, record its findings, tell each sink what it has not heard yet.

Rows that carry `verdict = 'unverified'` (the orphan report's way of saying "cannot tell yet") are
neither findings nor absences: an open finding in that state stays open and quiet, so a failed
collection never makes every orphan "resolve" and then "reappear" as new an hour later.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from graphinv.alerts.definition import AlertDefinition
from graphinv.alerts.delivery import deliver
from graphinv.alerts.settings import AlertSettings
from graphinv.alerts.sinks import Notification, Sink, wants
from graphinv.alerts.store import AlertStore, Finding, plain_row
from graphinv.db import Graph
from graphinv.metrics import Metrics
from graphinv.orphan_settings import PriceTable
from graphinv.orphans import OrphanFilter, orphan_report
from graphinv.redact import redact
from graphinv.scheduler.logs import log_context

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    rows: int
    findings: list[Finding]
    undecided: list[str]


@dataclass
class AlertOutcome:
    alert: str
    run_id: str
    status: str  # complete | failed
    dry_run: bool = False
    rows: int = 0
    findings: list[Finding] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    open: int = 0
    delivered: dict[str, int] = field(default_factory=dict)  # sink -> findings announced this run
    failed_sinks: list[str] = field(default_factory=list)
    error: str | None = None


class AlertRunner:
    def __init__(self, graph: Graph, settings: AlertSettings, sinks: Sequence[Sink], metrics: Metrics | None = None,
                 stop: threading.Event | None = None) -> None:
        self.graph = graph
        self.settings = settings
        self.sinks = list(sinks)
        self.metrics = metrics
        self.stop = stop or threading.Event()
        self.store = AlertStore(graph)
        self._prices: PriceTable | None = None

    def sinks_for(self, alert: AlertDefinition) -> list[Sink]:
        return [s for s in self.sinks if (not alert.sinks or s.name in alert.sinks) and wants(s, alert.severity)]

    # -- evaluation -----------------------------------------------------------------------------
    def evaluate(self, alert: AlertDefinition) -> Evaluation:
        if alert.uses == "orphans":
            rows = self._orphan_rows(alert)
        else:
            rows = [plain_row(r) for r in self.graph.run_read(alert.text, dict(alert.params))]
        decided = [r for r in rows if r.get("verdict") != "unverified"]
        undecided = [alert.finding_key(r) for r in rows if r.get("verdict") == "unverified"]
        findings = [Finding(alert.finding_key(r), r) for r in alert.threshold.select(decided)]
        unique = {f.key: f for f in findings}  # two rows with one key are one finding
        return Evaluation(rows=len(rows), findings=list(unique.values()), undecided=undecided)

    def _orphan_rows(self, alert: AlertDefinition) -> list[dict[str, Any]]:
        provider = str(alert.params["provider"])
        kind = alert.params.get("kind")
        if self._prices is None:  # the configured table (orphans.prices), read once per runner
            self._prices = PriceTable.load(self.settings.prices)
        rows = orphan_report(self.graph, OrphanFilter(provider=provider, kind=kind,
                                                      max_staleness=timedelta(seconds=self.settings.max_staleness)),
                             self._prices)
        if self.metrics:
            self.metrics.record_orphans(provider, kind, rows)
        # orphan_report also lists a kind's related resources; keep only the kind asked for.
        return [plain_row(r) for r in rows if kind is None or r.get("kind") == kind]

    # -- a run ----------------------------------------------------------------------------------
    def run(self, alert: AlertDefinition, dry_run: bool = False, run_id: str | None = None) -> AlertOutcome:
        run_id = run_id or uuid.uuid4().hex[:16]
        outcome = AlertOutcome(alert=alert.name, run_id=run_id, status="failed", dry_run=dry_run)
        with log_context(alert=alert.name, run_id=run_id):
            now = datetime.now(UTC)
            try:
                if not dry_run:
                    self.store.start_run(alert.name, run_id, now)
                evaluation = self.evaluate(alert)
            except Exception as exc:  # a broken query or a lost graph fails this run only
                outcome.error = redact(f"{type(exc).__name__}: {exc}")
                log.error("alert %s failed: %s", alert.name, outcome.error)
                self._finish(outcome, now)
                return outcome
            outcome.rows, outcome.findings = evaluation.rows, evaluation.findings
            if dry_run:
                known = self.store.open_keys(alert.name)
                outcome.new = [f.key for f in evaluation.findings if f.key not in known]
                outcome.open = len(evaluation.findings)
                outcome.status = "complete"
                return outcome
            try:
                recorded = self.store.record(alert.name, alert.severity, run_id, evaluation.findings,
                                             evaluation.undecided, now)
                outcome.new, outcome.open = recorded.new, recorded.open
                outcome.resolved = [r["key"] for r in recorded.resolved]
                log.info("alert %s: %d rows, %d open findings, %d new, %d resolved", alert.name, evaluation.rows,
                         recorded.open, len(recorded.new), len(recorded.resolved))
                self._notify(alert, outcome, recorded.resolved)
                outcome.status = "complete"
            except Exception as exc:
                outcome.error = redact(f"{type(exc).__name__}: {exc}")
                log.error("alert %s could not record its findings: %s", alert.name, outcome.error)
            self._finish(outcome, now)
            if outcome.status == "complete":
                self.store.prune(alert.name, now - timedelta(seconds=self.settings.keep_history))
        return outcome

    def _finish(self, outcome: AlertOutcome, started: datetime) -> None:
        if self.metrics:
            self.metrics.alert_runs.labels(outcome.alert, outcome.status).inc()
            if outcome.status == "complete":
                self.metrics.alert_open_findings.labels(outcome.alert).set(outcome.open)
                self.metrics.alert_new_findings.labels(outcome.alert).inc(len(outcome.new))
        if outcome.dry_run:
            return
        try:
            self.store.finish_run(outcome.run_id, outcome.status, datetime.now(UTC), outcome.rows,
                                  len(outcome.findings), len(outcome.new), len(outcome.resolved), outcome.error)
        except Exception as exc:  # the graph is gone; the run's outcome is in the log and metrics
            log.error("alert %s: could not record the run: %s", outcome.alert, redact(str(exc)))

    # -- notifications --------------------------------------------------------------------------
    def _notify(self, alert: AlertDefinition, outcome: AlertOutcome, resolved: list[dict[str, Any]]) -> None:
        notify_resolved = self.settings.notify_resolved if alert.notify_resolved is None else alert.notify_resolved
        for sink in self.sinks_for(alert):
            pending = self.store.pending(alert.name, sink.name)
            sent = 0
            for notification in self._messages(alert, "new", pending, outcome):
                if not deliver(sink, notification, self.settings.retry, self.stop, self.metrics):
                    outcome.failed_sinks.append(sink.name)
                    break  # the rest stays pending for this sink and goes out on the next run
                self.store.mark_notified(alert.name, sink.name, [f["key"] for f in notification.findings])
                sent += len(notification.findings)
            outcome.delivered[sink.name] = sent
            if notify_resolved:
                # Only what this sink announced may be called resolved to it.
                told = [{"key": r["key"], "data": r["data"]} for r in resolved if sink.name in r["notified"]]
                for notification in self._messages(alert, "resolved", told, outcome):
                    if not deliver(sink, notification, self.settings.retry, self.stop, self.metrics):
                        break  # resolved notices are best effort: the finding is closed either way

    def _messages(self, alert: AlertDefinition, event: str, findings: list[dict[str, Any]],
                  outcome: AlertOutcome) -> list[Notification]:
        size = self.settings.max_findings_per_message
        chunks = [findings[i:i + size] for i in range(0, len(findings), size)]
        return [Notification(alert=alert.name, severity=alert.severity, description=alert.description, event=event,
                             run_id=outcome.run_id, findings=chunk, open_findings=outcome.open, part=n + 1,
                             parts=len(chunks))
                for n, chunk in enumerate(chunks)]
