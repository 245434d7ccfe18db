"""`graphinv worker`: execute scope tasks from the queue with the same collectors and ingest engine.

Per task: take the scope's lock (a scope never runs twice at once; a busy scope's task comes back
later), re-plan the scope's source from this worker's config (cached per cycle: clients are built
here, never shipped in a message), then run the one scope through `graphinv.collect.run_tasks`,
which writes and sweeps only after the complete read. A failed scope raises, so the queue retries it
with backoff; after `queue.max_retries` it is dead-lettered and its result recorded as failed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from collectors.contract import ACCOUNT_WIDE
from collectors.records import Record
from collectors.scope import Scope, ScopeTask
from graphinv.collect import error_line, run_tasks
from graphinv.db import Graph
from graphinv.distributed.tasks import (
    LOCK_LOSS_REQUEUES,
    ScopeFailed,
    ScopeLock,
    ScopeQueue,
    result_payload,
    scope_of,
)
from graphinv.ingest import Ingest, ScopeRunResult
from graphinv.ingest.cypher import relink_query
from graphinv.redact import redact

log = logging.getLogger(__name__)

Planner = Callable[[str], list[ScopeTask]]


PLAN_KIND = "Plan"  # graphinv.sources.plan_sources: the failing task standing for a source it could not plan


class PlanFailed(ScopeFailed):
    """This worker could not plan the scope's source (its API failed while listing)."""


def _plan_error(task: ScopeTask) -> str:
    try:
        for _ in task.fetch():
            break
    except Exception as exc:  # the planning error the failing task carries
        return redact(error_line(exc))
    return "the source planned a failing task"


class ScopeExecutor:
    """What a worker does with one scope message (the body of the queue's actor)."""

    def __init__(self, graph: Graph, queue: ScopeQueue, planner: Planner) -> None:
        self.graph = graph
        self.queue = queue
        self.planner = planner
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._plans: dict[str, tuple[str, dict[str, ScopeTask]]] = {}  # source -> (cycle, key -> task)
        self._planning = threading.Lock()
        self._active: set[threading.Event] = set()
        self._reported_tx_retries = 0

    def bind(self) -> None:
        self.queue.on_scope = self
        self.queue.on_dead = self.dead_letter

    def abandon(self) -> None:
        """Shutting down: scopes being read give up at their next record (failed, nothing swept)."""
        self.stopping.set()
        with self._lock:
            for stop in self._active:
                stop.set()

    # -- one task -------------------------------------------------------------------------------
    def __call__(self, message: dict[str, Any]) -> None:
        scope = scope_of(message)
        cycle = str(message["cycle"])
        if self.stopping.is_set():
            raise ScopeFailed(f"{scope.key}: the worker is shutting down")
        stop = threading.Event()  # set when the lock is lost, the worker shuts down or Neo4j fails
        lock = self.queue.lock(scope.key, on_lost=stop.set)
        if lock is None:  # another worker reads this scope right now: come back later, not a failure
            self.queue.count(f"busy:{scope.source}")
            log.info("scope %s is being read by another worker; trying again in %s", scope.key,
                     self.queue.settings.busy_delay)
            self.queue.enqueue_later(message, self.queue.settings.busy_delay.total_seconds())
            return
        with self._lock:
            self._active.add(stop)
        try:
            if self.stopping.is_set():
                stop.set()
            aborted: str | None = None
            try:
                task = self._task(scope, cycle)
            except PlanFailed as exc:  # e.g. the API timed out while listing: not a verdict on the scope
                task, result = None, ScopeRunResult(scope=scope, status="failed", error=str(exc))
            else:
                if task is None:  # the source no longer has this scope (an account went away): nothing to sweep
                    log.warning("scope %s is no longer planned by its source; nothing read", scope.key)
                    result = ScopeRunResult(scope=scope, status="failed",
                                            error="the scope is no longer planned by its source; nothing was read")
                    self.queue.record_result(cycle, scope.key, result_payload(result))
                    return
            if task is not None:
                # start_wait=0: the Collection says `running` (and whose) from the start, as operators
                # of many workers expect when they look for who holds which scope.
                summary = run_tasks(Ingest(self.graph), [self._guarded(task, lock)], concurrency=1, stop=stop,
                                    start_wait=0)
                result, aborted = summary.results[0], summary.aborted
        finally:
            with self._lock:
                self._active.discard(stop)
            self.queue.release(lock)
            self._report_tx_retries()
        if result.status == "complete":
            self._relink(scope)
            log.info("scope %s complete: %d written, %d swept", scope.key, result.total_written, result.total_swept)
            self.queue.record_result(cycle, scope.key, result_payload(result))
            self.queue.count(f"complete:{scope.source}")
            return
        error = result.error or aborted or "failed"
        with self._lock:  # the retry plans the source anew (fresh clients, regions read again)
            self._plans.pop(scope.source, None)
        self.queue.record_error(cycle, scope.key, error)
        losses = int(message.get("lock_losses", 0))
        if lock.lost.is_set() and not self.stopping.is_set() and losses < LOCK_LOSS_REQUEUES:
            # The read did nothing wrong; it gave up (nothing swept) because another worker may read
            # the scope now. Put it back as a new message: not a failure, no retry used up.
            self.queue.count(f"lock_lost:{scope.source}")
            log.warning("scope %s lost its lock (%s); it goes back on the queue", scope.key, lock.why_lost)
            self.queue.enqueue_later({**message, "lock_losses": losses + 1},
                                     self.queue.settings.busy_delay.total_seconds())
            return
        retries, allowed = self.queue.attempt()
        if retries < allowed:
            self.queue.count(f"retries:{scope.source}")
        log.warning("scope %s failed (attempt %d of %d): %s", scope.key, retries + 1, allowed + 1, error)
        raise ScopeFailed(f"{scope.key}: {error}")

    def _guarded(self, task: ScopeTask, lock: ScopeLock) -> ScopeTask:
        """The task, failing (nothing swept) when its lock is no longer safely held at the end of the
        read: another worker may be reading the same scope, and two sweeps of one scope would delete
        each other's nodes."""
        queue = self.queue

        def fetch() -> Iterator[Record]:
            yield from task.fetch()
            if not queue.still_held(lock):
                raise ScopeFailed(f"{task.scope.key}: the scope's lock was lost during the read; not swept")

        return ScopeTask(scope=task.scope, fetch=fetch, context=task.context)

    def _relink(self, scope: Scope) -> None:
        """Other workers write the far ends of this scope's links at the same time: resolve the links
        again now that this scope is committed (graphinv/ingest/cypher.py relink_query says why)."""
        params = {"scope": scope.key, "now": datetime.now(UTC), "source": scope.source}
        for label in scope.labels:
            query = relink_query(label)
            if query:
                self.graph.run_write(query, params)

    def dead_letter(self, message: dict[str, Any], why: str) -> None:
        """The queue gave up on a scope: record it failed (nothing of it was swept)."""
        scope = scope_of(message)
        cycle = str(message["cycle"])
        last = self.queue.last_error(cycle, scope.key) or "unknown error"
        result = ScopeRunResult(scope=scope, status="failed", error=redact(f"dead-lettered ({why}): {last}"))
        self.queue.record_result(cycle, scope.key, result_payload(result, dead=True))
        self.queue.count(f"dead:{scope.source}")
        log.error("scope %s dead-lettered %s: %s", scope.key, why, last)

    # -- planning -------------------------------------------------------------------------------
    def _task(self, scope: Scope, cycle: str) -> ScopeTask | None:
        """The scope's task from this worker's own plan of its source (one plan per source and cycle).
        None: the source, planned successfully, has no such scope any more. PlanFailed: the plan could
        not be made (the source stands for it with a failing task); the queue retries the scope."""
        # One plan at a time in a worker, whatever the source: the first plan of a source imports its
        # SDK, and SDKs imported on several threads at once were seen to break (e.g. "partially
        # initialized module 'requests'"), leaving the module unusable for the worker's lifetime.
        with self._planning:
            planned = self._plans.get(scope.source)
            if planned is None or planned[0] != cycle or scope.key not in planned[1]:
                tasks = self.planner(scope.source)
                planned = (cycle, {t.scope.key: t for t in tasks})
                # What stands in for scopes a source could not plan: a failing task for the whole
                # source, or per kind for an account whose regions could not be read.
                failures = [t for t in tasks if t.scope.kind == PLAN_KIND or (
                    t.scope.account == scope.account and t.scope.kind == scope.kind
                    and t.scope.region == ACCOUNT_WIDE != scope.region)]
                if failures and scope.key not in planned[1]:
                    self._plans.pop(scope.source, None)  # plan again at the retry
                    raise PlanFailed(f"planning {scope.source} failed: {_plan_error(failures[0])}")
                self._plans[scope.source] = planned
        return planned[1].get(scope.key)

    def _report_tx_retries(self) -> None:
        with self._lock:
            delta = self.graph.tx_retries - self._reported_tx_retries
            self._reported_tx_retries += delta
        self.queue.count("neo4j_tx_retries", delta)


def run_worker(graph: Graph, queue: ScopeQueue, planner: Planner, threads: int, done: threading.Event,
               shutdown_timeout: float = 30.0) -> None:
    """Consume scope tasks until `done` is set; then unfinished scopes give up (nothing swept) and
    their messages go back on the queue for another worker."""
    from dramatiq import Worker

    # Scopes write through a driver that retries a transaction for `queue.neo4j_retry` only: past
    # that the scope fails and waits in the queue with backoff, instead of holding a thread.
    writer = Graph(graph.conn, max_retry_seconds=queue.settings.neo4j_retry.total_seconds())
    executor = ScopeExecutor(writer, queue, planner)
    executor.bind()
    queue.keeper.start(heartbeat=True)  # heart-beats even while every thread reads (tasks.py: LockKeeper)
    # No prefetch beyond the threads: a message waiting in a busy worker's memory is a scope another
    # worker could be reading.
    worker = Worker(queue.broker, worker_threads=threads, worker_timeout=1000)
    worker.queue_prefetch = threads
    worker.start()
    log.info("worker started: %d thread(s), queue %s on %s", threads, queue.settings.queue_name, queue.settings.where())
    try:
        while not done.wait(1.0):
            pass
    finally:
        log.info("worker stopping: scopes being read give up and go back on the queue")
        executor.abandon()
        worker.stop(timeout=int(shutdown_timeout * 1000))
        queue.close()
        writer.close()
