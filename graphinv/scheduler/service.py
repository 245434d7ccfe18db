"""The scheduler: collection jobs and alert jobs on one APScheduler BackgroundScheduler.

Every job runs with max_instances=1 (a long run makes the next one skip, never overlap),
coalesce=True (runs missed while the process was busy or asleep collapse into one) and a misfire
grace time. Collection jobs run on their own schedules; "after-collect" alerts are started by a
job listener once Gardener and their cloud have both been collected again (see ordering.py);
other alerts run on their own interval or cron schedule.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
    JobExecutionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from graphinv.alerts.definition import AlertDefinition
from graphinv.alerts.runner import AlertOutcome, AlertRunner
from graphinv.alerts.settings import AlertSettings
from graphinv.alerts.sinks import Sink, build_sinks
from graphinv.alerts.store import AlertStore
from graphinv.db import Graph, GraphUnavailable
from graphinv.history.jobs import HistoryJobs
from graphinv.history.settings import HistorySettings
from graphinv.ingest import install_schema
from graphinv.metrics import Metrics
from graphinv.scheduler.collect_job import CollectJob, JobOutcome, Planner
from graphinv.scheduler.logs import log_context
from graphinv.scheduler.ordering import CollectionBarrier
from graphinv.scheduler.settings import Schedule, SchedulerSettings
from graphinv.scheduler.status_server import StatusServer
from graphinv.settings.types import ConfigError
from graphinv.sources import collector_plan, configured_sources, plan_sources

if TYPE_CHECKING:
    from collectors.settings import SourcesSettings

log = logging.getLogger(__name__)

READY_CHECK_SECONDS = 15.0
Outcome = JobOutcome | AlertOutcome
JobListener = Callable[[str, Outcome], None]


def default_planner(sources: SourcesSettings) -> Planner:
    """Plans a source's scopes for a collect job; a source's first plan runs alone.

    Collect jobs start together on the scheduler's threads, and a source's first plan imports its
    SDK (google-cloud-compute alone is thousands of modules). Python's import locks are per module:
    two threads importing packages that import each other can be handed a partially initialized
    module ("partially initialized module ..."), and a package left half-imported fails every later
    run of the process. So the first plan of each source holds one lock; once planned, a source's
    modules are complete and later plans run in parallel."""
    first_plans = threading.Lock()
    planned: set[str] = set()

    def plan(source: str) -> list[Any]:
        if source in planned:
            return plan_sources(sources, [source])
        with first_plans:
            tasks = plan_sources(sources, [source])
            planned.add(source)
            return tasks

    return plan


def import_collectors(sources: SourcesSettings) -> None:
    """Import the configured sources' collectors (and so their SDKs) on the calling thread, before
    any job or watch thread starts: see default_planner for why imports must not race
    (graphinv.sources.collector_plan loads the collector module and its SDK)."""
    for name in configured_sources(sources):
        collector_plan(name)


class SchedulerService:
    watches: Any = None  # live Gardener watches (graphinv.watch.service.WatchService); see use_watches

    def __init__(self, graph: Graph, settings: SchedulerSettings, planner: Planner,
                 alert_settings: AlertSettings | None = None, alerts: Mapping[str, AlertDefinition] | None = None,
                 sinks: list[Sink] | None = None, metrics: Metrics | None = None,
                 stop: threading.Event | None = None, history: HistorySettings | None = None) -> None:
        self.graph = graph
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.stop = stop or threading.Event()
        history = history or HistorySettings()
        self.history = HistoryJobs(graph, history, self.stop)  # prune, deliver
        self.alert_settings = alert_settings or AlertSettings()
        self.sinks = sinks if sinks is not None else build_sinks(self.alert_settings.sinks)
        self.runner = AlertRunner(graph, self.alert_settings, self.sinks, self.metrics, self.stop)
        self.barrier = CollectionBarrier()
        self.collect_jobs = {spec.id: CollectJob(spec, graph, planner, settings.retry, settings.concurrency,
                                                 self.metrics, self.stop, capture_changes=history.enabled)
                             for spec in settings.jobs}
        self.alerts: dict[str, AlertDefinition] = {}
        self.last: dict[str, dict[str, Any]] = {}  # job id -> summary of its last run, for /jobs
        self.listeners: list[JobListener] = []
        self.status: StatusServer | None = None
        self._ready_cache: tuple[float, bool, str] = (0.0, False, "not checked yet")
        self._select_alerts(alerts or {})
        workers = len(self.collect_jobs) + 4  # every collection can run at once; alerts are short
        self.scheduler = BackgroundScheduler(
            timezone=settings.timezone,
            executors={"default": ThreadPoolExecutor(max_workers=workers)},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": int(settings.misfire_grace)},
        )
        self.scheduler.add_listener(self._on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES
                                    | EVENT_JOB_MISSED)
        self._add_jobs()
        self.history.add_to(self.scheduler)

    # -- building -------------------------------------------------------------------------------
    def _select_alerts(self, alerts: Mapping[str, AlertDefinition]) -> None:
        if not self.settings.alerts:
            return
        sources = sorted({job.spec.source for job in self.collect_jobs.values()})
        sink_names = {s.name for s in self.sinks}
        for name, alert in alerts.items():
            unknown = set(alert.sinks) - sink_names
            if unknown:
                configured = ", ".join(sorted(sink_names)) or "none"
                raise ConfigError(f"alert {name} ({alert.origin}) names unknown sink(s) "
                                    f"{', '.join(sorted(unknown))}; configured: {configured}")
            if alert.uses == "orphans" and alert.params.get("provider") not in sources:
                continue  # an orphan alert for a cloud that is not collected here
            if not alert.schedule.after_collect:
                self.alerts[name] = alert
                continue
            waits = [s for s in (alert.sources or sources) if s in sources]
            if not waits:
                log.warning("alert %s waits for sources that are not collected (%s); not scheduled", name,
                            ", ".join(alert.sources))
                continue
            self.barrier.add(name, waits)
            self.alerts[name] = alert

    def _add_jobs(self) -> None:
        tz = self.settings.timezone
        for job in self.collect_jobs.values():
            extra: dict[str, Any] = {"next_run_time": datetime.now(UTC)} if self.settings.run_at_start else {}
            self.scheduler.add_job(job, job.spec.schedule.trigger(tz), id=job.id, name=job.id, **extra)
        for alert in self.alerts.values():
            if alert.schedule.after_collect:
                continue  # started by _on_event
            schedule = Schedule(interval=alert.schedule.interval, cron=alert.schedule.cron)
            self.scheduler.add_job(self._run_alert, schedule.trigger(tz), args=[alert.name], id=f"alert:{alert.name}",
                                   name=f"alert:{alert.name}")

    def use_watches(self, watches: Any) -> None:
        """Watches keep the Gardener side current (and re-list it themselves, the safety net), so the
        scheduled Gardener reads stop: they would race the watches' writes with their sweeps."""
        self.watches = watches
        for job_id, job in list(self.collect_jobs.items()):
            if job.spec.source == "gardener":
                self.scheduler.remove_job(job_id)
                del self.collect_jobs[job_id]

    # -- running --------------------------------------------------------------------------------
    def start(self, serve_status: bool = True) -> None:
        install_schema(self.graph)
        AlertStore(self.graph).ensure_schema()
        if serve_status and self.settings.metrics.enabled:
            self.status = StatusServer(self.metrics, self._healthy, self._ready, self.job_table,
                                       host=self.settings.metrics.host, port=self.settings.metrics.port).start()
            log.info("metrics on %s/metrics", self.status.url)
        self.scheduler.start()
        if self.watches is not None:
            self.watches.start()
        self.history.start_delivery()
        log.info("scheduler started: %d collection jobs, %d alerts", len(self.collect_jobs), len(self.alerts))

    def shutdown(self, timeout: float | None = None) -> bool:
        """Stop: running collections abandon their scopes, waiting retries end. True if all jobs ended in time."""
        self.stop.set()
        if self.watches is not None:
            self.watches.stop()
        stopper = threading.Thread(target=self._stop_scheduler, name="graphinv-shutdown", daemon=True)
        stopper.start()
        stopper.join(self.settings.shutdown_timeout if timeout is None else timeout)
        clean = not stopper.is_alive()
        if not clean:
            log.error("jobs still running after %.0f s; giving up on them", self.settings.shutdown_timeout)
        if self.status:
            self.status.stop()
            self.status = None
        return clean

    def _stop_scheduler(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)

    def run_alert_now(self, name: str) -> None:
        """Start an alert job right away (what the barrier does once an alert's sources are fresh)."""
        if self.stop.is_set():
            return
        self.scheduler.add_job(self._run_alert, "date", args=[name], id=f"alert:{name}", name=f"alert:{name}",
                               replace_existing=True, misfire_grace_time=None)

    def _run_alert(self, name: str) -> AlertOutcome | None:
        alert = self.alerts[name]
        if alert.schedule.after_collect and not self.barrier.claim(name):
            return None  # a second trigger for the same cycle; the first one ran it
        if self.stop.is_set():
            return None
        with log_context(job=f"alert:{name}"):
            return self.runner.run(alert)

    def _on_event(self, event: JobEvent) -> None:
        job_id = event.job_id
        if event.code == EVENT_JOB_MAX_INSTANCES:
            self.metrics.job_skipped.labels(job_id).inc()
            log.warning("job %s is still running; this run is skipped", job_id)
            return
        if event.code == EVENT_JOB_MISSED:
            log.warning("job %s missed its run time by more than the misfire grace time", job_id)
            return
        assert isinstance(event, JobExecutionEvent)
        outcome = event.retval
        if event.exception is not None:  # our jobs catch their errors; this is a bug, logged with its trace
            log.error("job %s crashed: %s", job_id, type(event.exception).__name__, exc_info=event.exception)
        if isinstance(outcome, JobOutcome | AlertOutcome):
            self.last[job_id] = {"status": outcome.status, "finished": datetime.now(UTC).isoformat(),
                                 "run_id": outcome.run_id}
            for listener in list(self.listeners):
                try:
                    listener(job_id, outcome)
                except Exception:
                    log.exception("job listener failed")
        job = self.collect_jobs.get(job_id)
        if job is not None and not self.stop.is_set():
            ready = self.barrier.collection_finished(job.spec.source)
            if self.watches is not None:  # the watched Gardener side is as fresh as this read
                ready += self.barrier.collection_finished("gardener")
            for alert in dict.fromkeys(ready):
                self.run_alert_now(alert)

    # -- status ---------------------------------------------------------------------------------
    def _healthy(self) -> bool:
        return bool(self.scheduler.running) and not self.stop.is_set()

    def _ready(self) -> tuple[bool, str]:
        if not self._healthy():
            return False, "scheduler not running"
        down = self.watches.down() if self.watches is not None else []
        if down:
            return False, f"watches down: {', '.join(down)}"
        checked, ok, why = self._ready_cache
        if time.monotonic() - checked > READY_CHECK_SECONDS:
            try:
                version = self.graph.verify()
                ok, why = True, f"ready (Neo4j {version})"
            except GraphUnavailable as exc:
                ok, why = False, str(exc)
            self._ready_cache = (time.monotonic(), ok, why)
        return ok, why

    def job_table(self) -> list[dict[str, Any]]:
        """Every job: what it does, its schedule, its next run (live when running) and last result."""
        now = datetime.now(UTC)
        live = {job.id: job for job in self.scheduler.get_jobs()} if self.scheduler.running else {}
        rows: list[dict[str, Any]] = []
        for job in self.collect_jobs.values():
            spec = job.spec
            first = "at start" if self.settings.run_at_start else None
            rows.append(self._row(job.id, "collect", f"{spec.source}: {spec.describe_kinds()}",
                                  spec.schedule.describe(), live, now, first,
                                  spec.schedule.trigger(self.settings.timezone)))
        for alert in self.alerts.values():
            job_id = f"alert:{alert.name}"
            if alert.schedule.after_collect:
                waits = ", ".join(self.barrier.waits_for(alert.name))
                next_run = live[job_id].next_run_time.isoformat() if job_id in live and live[job_id].next_run_time \
                    else f"after {waits} are collected"
                rows.append({"id": job_id, "type": "alert", "what": alert.description or alert.name,
                             "schedule": f"after-collect ({waits})", "next_run": next_run, **self._last(job_id)})
                continue
            schedule = Schedule(interval=alert.schedule.interval, cron=alert.schedule.cron)
            rows.append(self._row(job_id, "alert", alert.description or alert.name, schedule.describe(), live, now,
                                  None, schedule.trigger(self.settings.timezone)))
        return rows

    def _row(self, job_id: str, kind: str, what: str, schedule: str, live: dict[str, Any], now: datetime,
             first: str | None, trigger: Any) -> dict[str, Any]:
        if job_id in live:
            when = live[job_id].next_run_time
            next_run = when.isoformat() if when else "paused"
        elif first:
            next_run = first
        else:
            when = trigger.get_next_fire_time(None, now)
            next_run = when.isoformat() if when else "never"
        return {"id": job_id, "type": kind, "what": what, "schedule": schedule, "next_run": next_run,
                **self._last(job_id)}

    def _last(self, job_id: str) -> dict[str, Any]:
        last = self.last.get(job_id, {})
        return {"last_status": last.get("status"), "last_finished": last.get("finished")}
