"""One scheduled collection: plan a source's scopes, read them into the graph, retry what failed.

A retry re-plans the source (fresh clients, fresh credentials) but reads only the scopes that
failed: a region answering 403 should not make the scheduler read the healthy regions three
times. Waits between attempts use the shutdown event, so SIGTERM cuts a backoff short.

On shutdown the running attempt is abandoned, not finished: each scope's reader gives up at its
next record and the scope is marked failed, which sweeps nothing. A scope is therefore either
read completely (and swept) or failed (and untouched); never half-swept.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from collectors.records import Record
from collectors.scope import Scope, ScopeTask
from graphinv.collect import run_tasks
from graphinv.db import Graph
from graphinv.ingest import Ingest, ScopeRunResult
from graphinv.metrics import Metrics
from graphinv.redact import redact
from graphinv.scheduler.backoff import Backoff
from graphinv.scheduler.logs import log_context
from graphinv.scheduler.settings import CollectJobSpec

log = logging.getLogger(__name__)

Planner = Callable[[str], list[ScopeTask]]


@dataclass
class JobOutcome:
    job: str
    source: str
    run_id: str
    status: str  # complete | failed | cancelled
    attempts: int = 0
    delays: list[float] = field(default_factory=list)  # waits before each retry, in order
    results: dict[str, ScopeRunResult] = field(default_factory=dict)  # scope key -> its last result
    error: str | None = None

    @property
    def failed_scopes(self) -> list[str]:
        return sorted(key for key, r in self.results.items() if r.status != "complete")

    @property
    def written(self) -> int:
        return sum(r.total_written for r in self.results.values())


class Shutdown(Exception):
    """The scheduler is stopping; the scope being read is abandoned."""


class CollectJob:
    def __init__(self, spec: CollectJobSpec, graph: Graph, planner: Planner, retry: Backoff, concurrency: int,
                 metrics: Metrics, stop: threading.Event, capture_changes: bool = True) -> None:
        self.spec = spec
        self.graph = graph
        self.planner = planner
        self.retry = retry
        self.concurrency = concurrency
        self.metrics = metrics
        self.stop = stop
        self.capture_changes = capture_changes  # `history.enabled`: record what changed while ingesting

    @property
    def id(self) -> str:
        return self.spec.id

    def __call__(self) -> JobOutcome:
        run_id = uuid.uuid4().hex[:16]
        outcome = JobOutcome(job=self.id, source=self.spec.source, run_id=run_id, status="failed")
        started = time.monotonic()
        with log_context(job=self.id, source=self.spec.source, run_id=run_id):
            log.info("job %s started", self.id)
            retry_keys: set[str] | None = None  # None: every scope of the plan
            while True:
                outcome.attempts += 1
                self.metrics.job_attempts.labels(self.id).inc()
                try:
                    failed = self._attempt(outcome, retry_keys)
                except Exception as exc:  # never leave the job running or crashed: fail this attempt
                    outcome.error = redact(f"{type(exc).__name__}: {exc}")
                    log.error("job %s: attempt failed: %s", self.id, outcome.error)
                    failed = []
                if not failed and outcome.error is None:
                    outcome.status = "complete"
                    break
                if self.stop.is_set():
                    outcome.status = "cancelled"
                    break
                if outcome.attempts >= self.retry.attempts:
                    break
                delay = self.retry.delay(outcome.attempts)
                outcome.delays.append(delay)
                self.metrics.job_retries.labels(self.id).inc()
                what = f"{len(failed)} failed scope(s)" if failed else "the plan"
                log.warning("job %s: attempt %d of %d failed (%s); retrying %s in %.1f s", self.id, outcome.attempts,
                            self.retry.attempts, outcome.error or ", ".join(failed[:5]), what, delay)
                retry_keys = set(failed) if failed else None
                if self.stop.wait(delay):
                    outcome.status = "cancelled"
                    break
            self.metrics.job_runs.labels(self.id, outcome.status).inc()
            self.metrics.job_duration.labels(self.id).observe(time.monotonic() - started)
            level = logging.INFO if outcome.status == "complete" else logging.WARNING
            log.log(level, "job %s %s after %d attempt(s): %d scopes, %d failed, %d records written", self.id,
                    outcome.status, outcome.attempts, len(outcome.results), len(outcome.failed_scopes),
                    outcome.written)
        return outcome

    # -- one attempt ----------------------------------------------------------------------------
    def _attempt(self, outcome: JobOutcome, retry_keys: set[str] | None) -> list[str]:
        """Plan and read; returns the keys of scopes that failed (outcome.error set if planning failed)."""
        outcome.error = None
        try:
            tasks = [t for t in self.planner(self.spec.source) if self.spec.wants(t.scope.kind)]
        except Exception as exc:  # a bad section or an unreachable API while planning: retry later
            outcome.error = redact(f"planning failed: {type(exc).__name__}: {exc}")
            log.error("job %s: %s", self.id, outcome.error)
            return []
        if retry_keys is not None:
            tasks = [t for t in tasks if t.scope.key in retry_keys or t.scope.kind == "Plan"]
        if not tasks:
            log.warning("job %s: the source planned no scopes of kind(s) %s", self.id, self.spec.describe_kinds())
            return []
        results, aborted = self._collect(tasks)
        outcome.results.update(results)
        if aborted:
            outcome.error = aborted
            log.error("job %s: %s", self.id, aborted)
        return sorted(key for key, r in results.items() if r.status != "complete")

    def _collect(self, tasks: list[ScopeTask]) -> tuple[dict[str, ScopeRunResult], str | None]:
        # run_tasks sets its own event when the graph fails under it; that must stop this run only,
        # so it gets a private event that the scheduler's shutdown event is copied into.
        local_stop = threading.Event()
        began: dict[str, float] = {}
        ended: dict[str, float] = {}
        guarded = [self._guard(task, local_stop, began) for task in tasks]

        def progress(scope: Scope, status: str, count: int) -> None:
            if status in ("complete", "failed"):
                ended[scope.key] = time.monotonic()
                with log_context(scope=scope.key):
                    log.info("scope %s %s: %d records", scope.key, status, count)

        if self.stop.is_set():
            local_stop.set()
        ingest = Ingest(self.graph, capture_changes=self.capture_changes)
        summary = run_tasks(ingest, guarded, concurrency=self.concurrency, progress=progress, stop=local_stop)
        now = time.time()
        results = {}
        for result in summary.results:
            key = result.scope.key
            seconds = ended[key] - began[key] if key in began and key in ended else None
            self.metrics.record_scope(result.scope, result.status, seconds, result.written, result.swept, now)
            results[key] = result
        return results, summary.aborted

    def _guard(self, task: ScopeTask, local_stop: threading.Event, began: dict[str, float]) -> ScopeTask:
        """The task, giving up at the next record once the scheduler stops."""
        stop = self.stop

        def fetch() -> Iterator[Record]:
            began[task.scope.key] = time.monotonic()
            yield from _checked(task.fetch(), stop, local_stop)

        return ScopeTask(scope=task.scope, fetch=fetch, context=task.context)


def _checked(records: Iterable[Record], stop: threading.Event, local_stop: threading.Event) -> Iterator[Record]:
    if stop.is_set():
        local_stop.set()
        raise Shutdown("the scheduler is shutting down; the scope was not read")
    for record in records:
        if stop.is_set():
            local_stop.set()
            raise Shutdown("the scheduler is shutting down; the scope was abandoned before it was read completely")
        yield record
