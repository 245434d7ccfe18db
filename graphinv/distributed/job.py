"""The scheduler side of the queue (`graphinv scheduler start --distributed`).

Each collection job keeps its schedule, retries and place in the alert ordering; only its reading
changes: the job plans its source as before, enqueues one message per scope and waits until every
scope has a result in Redis (complete, or failed after the queue's retries and dead-lettering).
Then the job ends like an in-process one, so "after-collect" alerts still run only once Gardener
and their cloud are both collected again (graphinv/scheduler/ordering.py).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from collectors.scope import ScopeTask
from graphinv.distributed.tasks import ScopeQueue, result_of
from graphinv.ingest import ScopeRunResult
from graphinv.scheduler.collect_job import CollectJob

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5


class DistributedCollectJob(CollectJob):
    queue: ScopeQueue

    @classmethod
    def replacing(cls, job: CollectJob, queue: ScopeQueue) -> DistributedCollectJob:
        new = cls(job.spec, job.graph, job.planner, job.retry, job.concurrency, job.metrics, job.stop)
        new.queue = queue
        return new

    def _collect(self, tasks: list[ScopeTask]) -> tuple[dict[str, ScopeRunResult], str | None]:
        cycle = uuid.uuid4().hex
        began = time.monotonic()
        for task in tasks:
            self.queue.enqueue(task.scope, cycle, self.id)
        log.info("job %s: %d scope task(s) enqueued (cycle %s)", self.id, len(tasks), cycle)
        wanted = {task.scope.key for task in tasks}
        deadline = began + self.queue.settings.cycle_timeout.total_seconds()
        got: dict[str, bytes] = {}
        while True:
            try:
                got = self.queue.results(cycle)
            except redis.RedisError as exc:  # Redis restarting: the client retried; keep waiting
                log.warning("job %s: cannot read results from Redis: %s", self.id, exc)
            if wanted <= set(got) or time.monotonic() > deadline:
                break
            if self.stop.wait(POLL_SECONDS):
                break
        seconds = time.monotonic() - began
        now = time.time()
        results: dict[str, ScopeRunResult] = {}
        for task in tasks:
            key = task.scope.key
            if key in got:
                result = result_of(task.scope, got[key])
            else:
                why = "the scheduler stopped" if self.stop.is_set() else "the cycle timed out"
                result = ScopeRunResult(scope=task.scope, status="failed",
                                        error=f"not finished by the workers: {why}")
            self.metrics.record_scope(task.scope, result.status, seconds, result.written, result.swept, now)
            results[key] = result
        return results, None


class QueueMetrics(Collector):
    """The queue's counters from Redis, read at each scrape: what every worker did."""

    def __init__(self, queue: ScopeQueue) -> None:
        self.queue = queue

    def collect(self) -> Iterator[Metric]:
        try:
            stats = self.queue.stats()
            depth = self.queue.depth()
        except redis.RedisError:
            return
        families = {
            "complete": CounterMetricFamily("graphinv_queue_scopes_completed", "Scope tasks completed by workers",
                                            labels=["source"]),
            "retries": CounterMetricFamily("graphinv_queue_scope_retries", "Scope tasks that failed and were "
                                           "retried with backoff", labels=["source"]),
            "dead": CounterMetricFamily("graphinv_queue_dead_letters", "Scope tasks given up after "
                                        "queue.max_retries retries", labels=["source"]),
            "busy": CounterMetricFamily("graphinv_queue_scope_busy", "Scope tasks postponed because another "
                                        "worker held the scope's lock", labels=["source"]),
            "lock_lost": CounterMetricFamily("graphinv_queue_lock_lost", "Scope reads abandoned (nothing swept) "
                                             "because their lock was lost, then put back on the queue",
                                             labels=["source"]),
        }
        for name, value in sorted(stats.items()):
            what, _, source = name.partition(":")
            if what in families and source:
                families[what].add_metric([source], value)
        yield from families.values()
        yield CounterMetricFamily("graphinv_queue_neo4j_tx_retries", "Neo4j transactions workers ran again "
                                  "after a transient error", value=stats.get("neo4j_tx_retries", 0))
        yield GaugeMetricFamily("graphinv_queue_depth", "Scope messages waiting or in flight", value=depth)


def distribute(service: object, queue: ScopeQueue) -> None:
    """Make every collection job of a SchedulerService (not started yet) read through the queue."""
    from graphinv.scheduler.service import SchedulerService

    assert isinstance(service, SchedulerService)
    for job_id, job in list(service.collect_jobs.items()):
        replacement = DistributedCollectJob.replacing(job, queue)
        service.collect_jobs[job_id] = replacement
        service.scheduler.modify_job(job_id, func=replacement)
    service.metrics.registry.register(QueueMetrics(queue))
