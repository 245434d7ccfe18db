"""Run scope tasks: reads in parallel on a bounded pool, every write on the calling thread.

The Neo4j session is not thread-safe and one writer avoids lock contention on shared nodes
(accounts, regions), so readers hand chunks of records to the writer through a bounded queue;
the bound keeps memory flat however large an account is (a slow writer slows the readers).
A read that raises fails its own scope only; the others go on.

Most scopes are small and read in well under a second, and a commit costs more than their rows
(a round trip and Neo4j's log flush): so a scope's start (its Collection says `running`) waits for
the scope's first transaction, and a small scope is written in ONE. A read still under way after
START_WAIT_SECONDS, or one that sends a full chunk (more are coming), is marked `running` at once,
so a read that is slow, large, or interrupted by a crash is visible and recovered as before; a read
that ends within the wait has written nothing before its single transaction, so there is nothing
of it to recover.

A read that is `running` says so again every HEARTBEAT_SECONDS (the Collection's `heartbeat`,
written by the writer between chunks). Any run, on any host, records failed a `running` scope
silent for LEASE_SECONDS: a collector pod killed mid-read never comes back under the same host name,
so the host's own check (is the reading process still alive?) would never find it. A live read
wrongly taken for dead loses nothing: its end still records it complete, and only it sweeps.

When the writer itself breaks (Neo4j gone, or a failure that cannot even be recorded), nothing
more is sent to the graph in this run: readers see the abort at their next record and leave
without waiting on the queue, every unfinished scope is reported failed in the summary, nothing
is swept, and the failures the graph could not take are recorded at the next run that reaches it
(see `recover_interrupted`).
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from neo4j.exceptions import DriverError, ServiceUnavailable, SessionExpired

from collectors.records import Record
from collectors.scope import Scope, ScopeTask
from graphinv.db import Graph
from graphinv.ingest import Ingest, ScopeRun, ScopeRunResult
from graphinv.redact import redact

log = logging.getLogger(__name__)

CHUNK = 1000  # records per hand-over from a reader to the writer
QUEUE_CHUNKS = 32  # chunks waiting at most: bounds memory to about QUEUE_CHUNKS * CHUNK records
POLL_SECONDS = 0.2  # how often a reader waiting on a full queue, or the writer on an empty one, looks up
START_WAIT_SECONDS = 1.0  # how long a scope's start may wait for the scope's first transaction
HEARTBEAT_SECONDS = 60.0  # how often the writer says its `running` scopes are still being read
LEASE_SECONDS = 600.0  # a `running` scope silent this long is taken for abandoned (10 missed beats)

_inflight_lock = threading.Lock()
_inflight: set[str] = set()  # run ids of scopes this process is writing right now
# Failures this process could not record because the graph was gone: (scope key, run id, error).
_unrecorded: list[tuple[str, str, str]] = []


@dataclass
class CollectionSummary:
    results: list[ScopeRunResult] = field(default_factory=list)
    # Why the run stopped writing altogether (the graph failed under it); None when it did not.
    aborted: str | None = None

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


class _WriterBroken(Exception):
    """The graph cannot take writes any more; the run stops writing."""


Progress = Callable[[Scope, str, int], None]


def run_tasks(ingest: Ingest, tasks: Sequence[ScopeTask], concurrency: int = 8,
              progress: Progress | None = None, stop: threading.Event | None = None,
              start_wait: float | None = None, heartbeat: float = HEARTBEAT_SECONDS) -> CollectionSummary:
    """Read every task's scope and write it; returns one result per task, always, and never hangs.

    `stop` (e.g. set on SIGTERM) makes readers give up at the next record: their scopes are marked
    failed, which sweeps nothing, so no scope is ever left half-swept or wrongly emptied.
    `start_wait`: how long a scope's start may wait for its first transaction (default
    START_WAIT_SECONDS; 0: every start is its own transaction, the scope is `running` at once).
    `heartbeat`: seconds between the writer's "still reading" marks on `running` scopes.
    """
    stop = stop or threading.Event()
    abort = threading.Event()  # the writer is gone: readers leave without sending anything more
    inbox: queue.Queue[_Message] = queue.Queue(maxsize=QUEUE_CHUNKS)
    summary = CollectionSummary()

    def send(msg: _Message) -> bool:
        while not abort.is_set():
            try:
                inbox.put(msg, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def read(task: ScopeTask) -> None:
        if not send(_Message(task, "start")):
            return
        try:
            chunk: list[Record] = []
            for record in task.fetch():
                if abort.is_set():
                    return
                if stop.is_set():
                    raise InterruptedError("collection stopped before the scope was read completely")
                chunk.append(record)
                if len(chunk) >= CHUNK:
                    if not send(_Message(task, "records", chunk)):
                        return
                    chunk = []
            if stop.is_set():
                raise InterruptedError("collection stopped before the scope was read completely")
            if chunk and not send(_Message(task, "records", chunk)):
                return
            send(_Message(task, "done"))
        except BaseException as exc:  # any failure of a read fails its scope, never the run
            send(_Message(task, "failed", error=exc))

    _record_unrecorded(ingest)
    framing = _Framing()
    runs: dict[int, ScopeRun] = {}
    counts: dict[int, int] = {}
    results: dict[int, ScopeRunResult] = {}
    waiting = _WaitingStarts(START_WAIT_SECONDS if start_wait is None else start_wait)
    beat = _Heartbeat(ingest.graph, heartbeat)
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="collect")
    try:
        futures = [pool.submit(read, task) for task in tasks]
        readers_left = len(tasks)
        # Drain until every reader has sent its last message, so no reader waits on a full queue.
        while readers_left:
            msg: _Message | None
            try:
                msg = inbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if all(f.done() for f in futures) and inbox.empty():
                    break  # every reader has ended (one may have died without a last word)
                msg = None
            result = None
            try:
                if msg is not None:
                    readers_left -= msg.kind in ("done", "failed")
                    if id(msg.task) not in results:
                        result = _handle(ingest, msg, runs, counts, progress, stop, framing, waiting)
                waiting.begin_overdue()
                beat.beat_if_due(run for key, run in runs.items() if key not in results)
            except _WriterBroken as exc:
                summary.aborted = str(exc)
                break
            except Exception as exc:  # the graph failed where no scope could absorb it
                summary.aborted = redact(f"Neo4j failed during the collection: {type(exc).__name__}: {exc}")
                log.error("%s; the collection stops", summary.aborted)
                break
            if msg is not None and result is not None:
                key = id(msg.task)
                results[key] = result
                _finished(runs.get(key))
                if progress:
                    progress(msg.task.scope, result.status, counts[key])
    finally:
        abort.set()
        pool.shutdown(wait=True, cancel_futures=True)

    for task in tasks:
        key = id(task)
        result = results.get(key)
        if result is None:
            result = _unfinished(task, runs.get(key), summary.aborted)
            if progress:
                progress(task.scope, result.status, counts.get(key, 0))
        summary.results.append(result)
    return summary


class _Framing:
    """The framing records (accounts, regions: `ScopeTask.context`) this run has written. The scopes of
    one account and region share them (three or more per region), and one write a run is enough:
    they are never swept, and a record equal to one already written would only refresh it."""

    def __init__(self) -> None:
        self._written: dict[tuple[str, str], Record] = {}

    def new(self, records: Sequence[Record]) -> list[Record]:
        return [r for r in records if self._written.get((r.label, r.uid)) != r]

    def written(self, records: Sequence[Record]) -> None:
        self._written.update(((r.label, r.uid), r) for r in records)


HEARTBEAT_QUERY = """
UNWIND $beat.runs AS run
MATCH (c:Collection {uid: run.key}) WHERE c.run_id = run.run_id AND c.status = 'running'
SET c.heartbeat = $now
"""


class _Heartbeat:
    """The writer's "still reading" mark on the `running` scopes of this run (see the module)."""

    def __init__(self, graph: Graph, every: float) -> None:
        self.graph = graph
        self.every = every
        self._last = time.monotonic()

    def beat_if_due(self, runs: Iterable[ScopeRun]) -> None:
        if time.monotonic() - self._last < self.every:
            return
        self._last = time.monotonic()
        # A start still waiting has nothing in the graph to mark (and the runs list is one map, so
        # Neo4j plans the statement once whatever its length).
        marks = [{"key": run.scope.key, "run_id": run.run_id} for run in runs if not run.start_pending]
        if not marks:
            return
        try:
            self.graph.run_write(HEARTBEAT_QUERY, {"beat": {"runs": marks}, "now": datetime.now(UTC)})
        except Exception as exc:  # a missed beat costs nothing yet; the next write tells if the graph is gone
            log.warning("could not mark %d running scope(s) as still being read: %s", len(marks), redact(str(exc)))


class _WaitingStarts:
    """The scope runs whose start waits for their first transaction, oldest first (see the module)."""

    def __init__(self, wait: float) -> None:
        self.wait = wait
        self._since: dict[int, tuple[ScopeRun, float]] = {}

    def add(self, key: int, run: ScopeRun) -> None:
        self._since[key] = (run, time.monotonic())

    def begin(self, key: int) -> None:
        """Record the start of `key`'s run now, if it still waits."""
        entry = self._since.pop(key, None)
        if entry is not None:
            entry[0].begin()

    def begin_overdue(self) -> None:
        """Record the starts that have waited long enough; forget those recorded meanwhile."""
        due = time.monotonic() - self.wait
        for key, (run, since) in list(self._since.items()):
            if not run.start_pending:
                del self._since[key]
            elif since <= due:
                self.begin(key)
            else:
                break  # the rest came later


def _handle(ingest: Ingest, msg: _Message, runs: dict[int, ScopeRun], counts: dict[int, int],
            progress: Progress | None, stop: threading.Event, framing: _Framing,
            waiting: _WaitingStarts) -> ScopeRunResult | None:
    """Apply one reader message; returns the scope's result once the scope is finished."""
    key = id(msg.task)
    if msg.kind == "start":
        context = framing.new(msg.task.context)
        scope = msg.task.scope

        def marked_running() -> None:  # the Collection says `running` now: the read goes on
            if progress:
                progress(scope, "running", counts.get(key, 0))

        # The framing records go with the start. Another scope's upserts may commit before them: the
        # edges to an account or region are made from whichever end is written last.
        run = ingest.scope(scope, context, defer_start=True, on_running=marked_running)
        framing.written(context)
        runs[key] = run
        waiting.add(key, run)
        with _inflight_lock:
            _inflight.add(run.run_id)
        counts[key] = 0
        return None
    run = runs[key]
    try:
        if msg.kind == "records":
            if len(msg.records or ()) >= CHUNK:  # more to come: a large read is marked running now
                waiting.begin(key)
            counts[key] += run.write(msg.records or [])
            if progress:
                progress(msg.task.scope, "reading", counts[key])
            return None
        if msg.kind == "done":
            return run.complete()
        assert msg.error is not None
        line = error_line(msg.error)
        log.warning("scope %s failed: %s", msg.task.scope, redact(line))
        log.debug("scope %s failed, in full: %s", msg.task.scope, redact(str(msg.error)))
        return run.fail(line)
    except Exception as exc:  # writing failed (e.g. Neo4j gone)
        reason = redact(f"{type(exc).__name__}: {exc}")
        log.error("scope %s could not be written: %s", msg.task.scope, reason)
        stop.set()  # the writer is in trouble; readers stop at their next record
        if _unreachable(exc):
            raise _WriterBroken(f"Neo4j failed during the collection: {reason}") from exc
        try:
            return run.fail(exc)  # the graph answers: record this scope's failure, sweep nothing
        except Exception as again:
            raise _WriterBroken(f"Neo4j failed during the collection: {reason}") from again


def error_line(error: BaseException) -> str:
    """One line for a failed read: the error's type and its first line. SDK errors often go on
    with the answer's body, headers or an HTML page; those stay in the debug log."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    head = lines[0] if lines else "no message"
    if len(lines) > 1 and len(head) < 24:  # "(500)" or "Error:" alone says too little
        head = f"{head} {lines[1]}"
    name = type(error).__name__
    return (head if head.startswith(name) else f"{name}: {head}")[:500]


def _unreachable(exc: BaseException) -> bool:
    """The driver lost the server (after its own retries): further writes would only wait."""
    return isinstance(exc, ServiceUnavailable | SessionExpired) or (
        isinstance(exc, DriverError) and not hasattr(exc, "code"))


def _finished(run: ScopeRun | None) -> None:
    if run is not None:
        with _inflight_lock:
            _inflight.discard(run.run_id)


def _unfinished(task: ScopeTask, run: ScopeRun | None, aborted: str | None) -> ScopeRunResult:
    """The failed result of a scope the run could not finish; its Collection is fixed up later."""
    error = f"not finished: {aborted}" if aborted else "not finished: the reader ended without a result"
    if run is None:
        return ScopeRunResult(scope=task.scope, status="failed", error=error)
    _finished(run)
    if not run.start_pending:  # a start never recorded left nothing in the graph to set failed
        with _inflight_lock:
            _unrecorded.append((task.scope.key, run.run_id, error))
    result = run.result
    result.status = "failed"
    result.error = error
    return result


def _record_unrecorded(ingest: Ingest) -> None:
    """Mark failed the Collections left `running` by runs that can no longer finish them.

    Those are this process's own failures that the graph could not take, and scopes whose
    process on this host is gone (killed, crashed). A scope another live process is reading, or one
    from another host, is left alone. Best effort: a graph that is still down fails the run later.
    """
    with _inflight_lock:
        pending = list(_unrecorded)
        live = sorted(_inflight)
    try:
        recover_interrupted(ingest.graph, pending, live)
    except Exception as exc:
        log.warning("could not record earlier unfinished scopes as failed: %s", redact(str(exc)))
        return
    with _inflight_lock:
        for item in pending:
            if item in _unrecorded:
                _unrecorded.remove(item)


def recover_interrupted(graph: Graph, pending: Sequence[tuple[str, str, str]] = (),
                        live_run_ids: Sequence[str] = (), lease: float = LEASE_SECONDS) -> int:
    """Set failed every `running` Collection no live run will finish; returns how many: the failures
    this process could not record (`pending`), scopes whose reading process on this host is gone,
    and scopes on any host silent for `lease` seconds."""
    now = datetime.now(UTC)
    fixed = _fail_silent(graph, now, now - timedelta(seconds=lease), live_run_ids)
    for key, run_id, error in pending:
        fixed += _fail_running(graph, key, run_id, now, error)
    host = socket.gethostname()
    candidates = graph.run_read(
        "MATCH (c:Collection) WHERE c.status = 'running' AND c.owner STARTS WITH $prefix "
        "RETURN c.uid AS key, c.run_id AS run_id, c.owner AS owner", {"prefix": f"{host}:"})
    for row in candidates:
        if row["run_id"] in live_run_ids:
            continue
        pid = int(str(row["owner"]).rsplit(":", 1)[1])
        if pid == os.getpid() or _pid_alive(pid):
            continue
        fixed += _fail_running(graph, row["key"], row["run_id"], now,
                               "interrupted: the collecting process ended before the scope was finished")
    if fixed:
        log.warning("%d scope(s) left running by an interrupted collection recorded as failed", fixed)
    return fixed


# `$cutoff`: when not null, only a scope silent since then (a beat that came meanwhile keeps it running)
_FAIL_RUNNING_QUERY = """
MATCH (c:Collection {uid: $key})
WHERE c.run_id = $run_id AND c.status = 'running'
  AND ($cutoff IS NULL OR coalesce(c.heartbeat, c.started) < $cutoff)
SET c.status = 'failed', c.finished = $now, c.error = $error
RETURN count(c) AS n
"""


def _fail_running(graph: Graph, key: str, run_id: str, now: datetime, error: str,
                  cutoff: datetime | None = None) -> int:
    """Record failed the run `run_id` of scope `key`, if it is still `running`; 1 if it was."""
    return int(graph.run_write(_FAIL_RUNNING_QUERY, {"key": key, "run_id": run_id, "now": now, "error": error,
                                                     "cutoff": cutoff})[0]["n"])


_SILENT_QUERY = """
MATCH (c:Collection) WHERE c.status = 'running' AND coalesce(c.heartbeat, c.started) < $cutoff
  AND NOT c.run_id IN $live.run_ids
RETURN c.uid AS key, c.run_id AS run_id, c.owner AS owner, coalesce(c.heartbeat, c.started) AS last
"""


def _fail_silent(graph: Graph, now: datetime, cutoff: datetime, live_run_ids: Sequence[str]) -> int:
    """Record failed the `running` scopes whose reader has not said it is still reading since
    `cutoff` (a Collection written before graphinv kept `heartbeat`: since its start)."""
    fixed = 0
    # the list in a map: one plan however many runs are live (see graphinv/ingest/cypher.py, upsert_query)
    for row in graph.run_read(_SILENT_QUERY, {"cutoff": cutoff, "live": {"run_ids": list(live_run_ids)}}):
        last = row["last"].to_native() if hasattr(row["last"], "to_native") else row["last"]
        error = (f"interrupted: its reader ({row['owner'] or 'unknown'}) has not said it is still reading "
                 f"since {last:%Y-%m-%d %H:%M:%S} UTC")
        fixed += _fail_running(graph, row["key"], row["run_id"], now, error, cutoff)
    return fixed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
