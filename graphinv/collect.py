"""Run scope tasks: reads in parallel on a bounded pool, every write on the calling thread.

The Neo4j session is not thread-safe and one writer avoids lock contention on shared nodes
(accounts, regions), so readers hand chunks of records to the writer through a bounded queue;
the bound keeps memory flat however large an account is (a slow writer slows the readers).
A read that raises fails its own scope only; the others go on.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from collectors.records import Record
from collectors.scope import Scope, ScopeTask
from graphinv.ingest import Ingest, ScopeRun, ScopeRunResult
from graphinv.redact import redact

log = logging.getLogger(__name__)

CHUNK = 1000  # records per hand-over from a reader to the writer
QUEUE_CHUNKS = 32  # chunks waiting at most: bounds memory to about QUEUE_CHUNKS * CHUNK records


@dataclass
class CollectionSummary:
    results: list[ScopeRunResult] = field(default_factory=list)

    @property
    def failed(self) -> list[ScopeRunResult]:
        return [r for r in self.results if r.status != "complete"]

    @property
    def written(self) -> int:
        return sum(r.total_written for r in self.results)

    @property
    def swept(self) -> int:
        return sum(r.total_swept for r in self.results)


@dataclass
class _Message:
    task: ScopeTask
    kind: str  # start | records | done | failed
    records: list[Record] | None = None
    error: BaseException | None = None


Progress = Callable[[Scope, str, int], None]


def run_tasks(ingest: Ingest, tasks: Sequence[ScopeTask], concurrency: int = 8,
              progress: Progress | None = None, stop: threading.Event | None = None) -> CollectionSummary:
    """Read every task's scope and write it; returns one result per scope.

    `stop` (e.g. set on SIGTERM) makes readers give up at the next chunk: their scopes are marked
    failed, which sweeps nothing, so no scope is ever left half-swept or wrongly emptied.
    """
    stop = stop or threading.Event()
    inbox: queue.Queue[_Message] = queue.Queue(maxsize=QUEUE_CHUNKS)
    summary = CollectionSummary()

    def read(task: ScopeTask) -> None:
        inbox.put(_Message(task, "start"))
        try:
            chunk: list[Record] = []
            for record in task.fetch():
                chunk.append(record)
                if len(chunk) >= CHUNK:
                    inbox.put(_Message(task, "records", chunk))
                    chunk = []
                    if stop.is_set():
                        raise InterruptedError("collection stopped before the scope was read completely")
            if stop.is_set():
                raise InterruptedError("collection stopped before the scope was read completely")
            if chunk:
                inbox.put(_Message(task, "records", chunk))
            inbox.put(_Message(task, "done"))
        except BaseException as exc:  # any failure of a read fails its scope, never the run
            inbox.put(_Message(task, "failed", error=exc))

    runs: dict[int, ScopeRun] = {}
    counts: dict[int, int] = {}
    closed: set[int] = set()  # scopes already failed by the writer; their later messages are drained
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="collect") as pool:
        for task in tasks:
            pool.submit(read, task)
        readers_left = len(tasks)
        # Drain until every reader has sent its last message, so no reader blocks on a full queue.
        while readers_left:
            msg = inbox.get()
            key = id(msg.task)
            terminal = msg.kind in ("done", "failed")
            readers_left -= terminal
            if key in closed:
                continue
            result = _handle(ingest, msg, runs, counts, progress, stop)
            if result is not None:
                summary.results.append(result)
                closed.add(key)
                if progress:
                    progress(msg.task.scope, result.status, counts[key])
    return summary


def _handle(ingest: Ingest, msg: _Message, runs: dict[int, ScopeRun], counts: dict[int, int],
            progress: Progress | None, stop: threading.Event) -> ScopeRunResult | None:
    """Apply one reader message; returns the scope's result once the scope is finished."""
    key = id(msg.task)
    if msg.kind == "start":
        if msg.task.context:
            ingest.write_context(msg.task.scope, msg.task.context)
        runs[key] = ingest.scope(msg.task.scope)
        counts[key] = 0
        return None
    run = runs[key]
    try:
        if msg.kind == "records":
            counts[key] += run.write(msg.records or [])
            if progress:
                progress(msg.task.scope, "reading", counts[key])
            return None
        if msg.kind == "done":
            return run.complete()
        assert msg.error is not None
        log.warning("scope %s failed: %s", msg.task.scope, redact(str(msg.error)))
        return run.fail(msg.error)
    except Exception as exc:  # writing failed (e.g. Neo4j gone): this scope fails, others go on
        log.error("scope %s could not be written: %s", msg.task.scope, redact(str(exc)))
        stop.set()  # the writer is in trouble; readers stop at their next chunk
        return run.fail(exc)
