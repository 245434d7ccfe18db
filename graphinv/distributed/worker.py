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

from collectors.records import Record
from collectors.scope import Scope, ScopeTask
from graphinv.collect import run_tasks
from graphinv.db import Graph
from graphinv.distributed.tasks import ScopeFailed, ScopeLock, ScopeQueue, result_payload, scope_of
from graphinv.ingest import Ingest, ScopeRunResult
from graphinv.ingest.cypher import relink_query
from graphinv.redact import redact

log = logging.getLogger(__name__)

Planner = Callable[[str], list[ScopeTask]]


class ScopeExecutor:
    """What a worker does with one scope message (the body of the queue's actor)."""

    def __init__(self, graph: Graph, queue: ScopeQueue, planner: Planner) -> None:
        self.graph = graph
        self.queue = queue
        self.planner = planner
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._plans: dict[str, tuple[str, dict[str, ScopeTask]]] = {}  # source -> (cycle, key -> task)
        self._plan_locks: dict[str, threading.Lock] = {}
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
        lock = self.queue.lock(scope.key)
        if lock is None:  # another worker reads this scope right now: come back later, not a failure
            self.queue.count(f"busy:{scope.source}")
            log.info("scope %s is being read by another worker; trying again in %s", scope.key,
                     self.queue.settings.busy_delay)
            self.queue.enqueue_later(message, self.queue.settings.busy_delay.total_seconds())
            return
        stop = lock.lost
        with self._lock:
            self._active.add(stop)
        try:
            task = self._task(scope, cycle)
            if task is None:  # the source no longer has this scope (an account went away): nothing to sweep
                result = ScopeRunResult(scope=scope, status="failed",
                                        error="the scope is no longer planned by its source; nothing was read")
                self.queue.record_result(cycle, scope.key, result_payload(result))
                return
            summary = run_tasks(Ingest(self.graph), [_guarded(task, lock)], concurrency=1, stop=stop)
            result = summary.results[0]
        finally:
            with self._lock:
                self._active.discard(stop)
            lock.release()
            self._report_tx_retries()
        if result.status == "complete":
            self._relink(scope)
            log.info("scope %s complete: %d written, %d swept", scope.key, result.total_written, result.total_swept)
            self.queue.record_result(cycle, scope.key, result_payload(result))
            self.queue.count(f"complete:{scope.source}")
            return
        error = result.error or summary.aborted or "failed"
        with self._lock:  # the retry plans the source anew (fresh clients, regions read again)
            self._plans.pop(scope.source, None)
        self.queue.record_error(cycle, scope.key, error)
        retries, allowed = self.queue.attempt()
        if retries < allowed:
            self.queue.count(f"retries:{scope.source}")
        log.warning("scope %s failed (attempt %d of %d): %s", scope.key, retries + 1, allowed + 1, error)
        raise ScopeFailed(f"{scope.key}: {error}")

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
        """The scope's task from this worker's own plan of its source (one plan per source and cycle)."""
        with self._lock:
            source_lock = self._plan_locks.setdefault(scope.source, threading.Lock())
        with source_lock:
            planned = self._plans.get(scope.source)
            if planned is None or planned[0] != cycle or scope.key not in planned[1]:
                tasks = self.planner(scope.source)
                planned = (cycle, {t.scope.key: t for t in tasks})
                self._plans[scope.source] = planned
        return planned[1].get(scope.key)

    def _report_tx_retries(self) -> None:
        with self._lock:
            delta = self.graph.tx_retries - self._reported_tx_retries
            self._reported_tx_retries += delta
        self.queue.count("neo4j_tx_retries", delta)


def _guarded(task: ScopeTask, lock: ScopeLock) -> ScopeTask:
    """The task, failing (nothing swept) when its lock was lost by the end of the read: another worker
    may be reading the same scope, and two sweeps of one scope would delete each other's nodes."""

    def fetch() -> Iterator[Record]:
        yield from task.fetch()
        if not lock.still_held():
            raise ScopeFailed(f"{task.scope.key}: the scope's lock was lost during the read; not swept")

    return ScopeTask(scope=task.scope, fetch=fetch, context=task.context)


def run_worker(graph: Graph, queue: ScopeQueue, planner: Planner, threads: int, done: threading.Event,
               shutdown_timeout: float = 30.0) -> None:
    """Consume scope tasks until `done` is set; then unfinished scopes give up (nothing swept) and
    their messages go back on the queue for another worker."""
    from dramatiq import Worker

    executor = ScopeExecutor(graph, queue, planner)
    executor.bind()
    worker = Worker(queue.broker, worker_threads=threads, worker_timeout=1000)
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
