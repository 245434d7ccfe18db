"""One watched resource: list, then watch from the list's resourceVersion, events into the graph.

Two threads per watch:
- the reader lists (a complete read through the ingest engine: the same ScopeRun, the same sweep,
  and a failed list deletes nothing), then follows the watch stream and queues what it receives;
  on `410 Gone` it re-lists, on a broken stream or an error it reconnects from the last
  resourceVersion after a backoff with jitter, on `401` it fetches fresh credentials once;
- the writer takes queued events in small batches (`batch_size`, or what arrived within
  `batch_latency`), keeps the last change per object, and applies them through
  `graphinv.ingest.engine.apply_changes` (DELETED deletes that node only, never a sweep). After
  each batch it confirms the scope complete as of the moment the newest queued message arrived:
  everything the server sent before that is in the graph.

A watch that is down confirms nothing, so its scope's Collection stops moving and the orphan rules
fall back to `unverified` after `max_staleness`, exactly as after failed reads.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from collectors.gardener.paging import paged_items
from collectors.records import Record
from collectors.scope import Scope
from graphinv.ingest import Ingest
from graphinv.ingest.engine import (
    apply_changes,
    confirm_complete,
    mark_owner_changed,
    mark_unwatched,
    prepare_changes,
)
from graphinv.redact import redact
from graphinv.watch.settings import WatchSettings

log = logging.getLogger(__name__)

PAGE_SIZE = 500
CONNECT_TIMEOUT = 10.0
CONFIRM_IDLE_SECONDS = 1.0


@dataclass(frozen=True)
class WatchedKind:
    """What to watch and how its objects become records."""

    scope: Scope
    group_version: tuple[str, str]
    plural: str
    to_record: Callable[[dict[str, Any]], Record | None]  # None: not ours (e.g. a machine outside shoot--*)
    before_list: Callable[[client.CustomObjectsApi], None] | None = None  # e.g. learn project namespaces
    # A complete read without a cluster-wide list (the collector's per-namespace fallback), used
    # when the cluster-wide list is forbidden and so no watch can run: the scope is then polled.
    full_read: Callable[[], Iterable[Record]] | None = None


@dataclass
class Change:
    type: str  # ADDED | MODIFIED | DELETED | BOOKMARK (no record)
    record: Record | None
    received: float  # wall clock when the reader got it
    resource_version: str | None = None
    previous: Record | None = None  # the record this object had before (filled in by the writer)
    initial: bool = False  # from the first list of the watch: what existed, not a change


Listener = Callable[["ResourceWatch", list[Change], float], None]  # (watch, applied changes, commit time)


class _Gone(Exception):
    """410: the resourceVersion is too old; only a new list helps."""


@dataclass
class WatchStatus:
    name: str
    scope: str
    state: str = "starting"  # starting | listing | watching | backoff | polling | stopped
    connected: bool = False
    events_applied: int = 0
    restarts: int = 0
    lists: int = 0
    last_event_at: float | None = None  # wall clock of the newest applied event
    last_confirmed_at: float | None = None  # wall clock the scope was last confirmed complete as of
    last_lag: float | None = None  # seconds from receiving the newest applied event to its commit
    last_error: str | None = None
    resource_version: str | None = None

    def as_dict(self, now: float | None = None) -> dict[str, Any]:
        now = now or time.time()
        out = dict(self.__dict__)
        out["last_event_age"] = None if self.last_event_at is None else round(now - self.last_event_at, 3)
        return out


@dataclass
class _Backoff:
    initial: float
    maximum: float
    jitter: float
    failures: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next(self) -> float:
        self.failures += 1
        base = min(self.maximum, self.initial * 2 ** (self.failures - 1))
        return max(0.0, base * (1 + self.jitter * (2 * self.rng.random() - 1)))

    def reset(self) -> None:
        self.failures = 0


class ResourceWatch:
    def __init__(self, name: str, kind: WatchedKind, ingest: Ingest, settings: WatchSettings,
                 api: Callable[[], client.CustomObjectsApi], refresh_credentials: Callable[[], None] | None = None,
                 listeners: list[Listener] | None = None, metrics: Any | None = None) -> None:
        self.name = name
        self.kind = kind
        self.ingest = ingest
        self.settings = settings
        self._api = api
        self._refresh_credentials = refresh_credentials
        self.listeners = listeners if listeners is not None else []
        self.metrics = metrics
        self.status = WatchStatus(name, kind.scope.key)
        self._queue: queue.Queue[Change] = queue.Queue()
        self._stop = threading.Event()
        self._watch: watch.Watch | None = None
        self._known: dict[str, Record] = {}  # uid -> last record, for listeners (what changed)
        self._last_list = 0.0
        self._resync_requested = False
        self._backoff = _Backoff(settings.backoff.initial.total_seconds(), settings.backoff.max.total_seconds(),
                                 settings.backoff.jitter)
        self._threads = [threading.Thread(target=self._read_loop, name=f"watch-read:{name}", daemon=True),
                         threading.Thread(target=self._write_loop, name=f"watch-write:{name}", daemon=True)]
        if metrics is not None:
            metrics.watch_started(self)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> ResourceWatch:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        current = self._watch
        if current is not None:
            current.stop()  # shuts the socket down, so a blocked read returns

    def join(self, timeout: float | None = None) -> None:
        for thread in self._threads:
            thread.join(timeout)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def request_resync(self) -> None:
        """Re-list at the next chance (the periodic safety net, or a test)."""
        self._last_list = 0.0
        self._resync_requested = True
        current = self._watch
        if current is not None:
            current.stop()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until everything received so far is applied. True when it was in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    # -- reader ---------------------------------------------------------------------------------
    def _set_state(self, state: str, connected: bool) -> None:
        changed = self.status.connected != connected
        self.status.state, self.status.connected = state, connected
        if self.metrics is not None:
            self.metrics.watch_connected_changed(self)
        if changed and not connected:
            try:
                mark_unwatched(self.ingest.graph, self.kind.scope)
            except Exception as exc:  # the graph being down is reported by the writer
                log.debug("watch %s: could not mark its scope unwatched: %s", self.name, type(exc).__name__)

    def _read_loop(self) -> None:
        resource_version: str | None = None
        credentials_refreshed = False
        while not self._stop.is_set():
            try:
                resync_due = time.monotonic() - self._last_list >= self.settings.resync_interval.total_seconds()
                if resource_version is None or resync_due:
                    resource_version = self._relist()
                try:
                    resource_version = self._follow(resource_version)
                finally:
                    # A stream that broke still got somewhere: the events it delivered are queued, so the
                    # next request resumes after the last of them (status.resource_version), not from where
                    # this one began, which would deliver them twice. (A 410 re-lists below regardless.)
                    resource_version = self.status.resource_version or resource_version
                credentials_refreshed = False
                self._backoff.reset()
            except _Gone:
                log.info("watch %s: resourceVersion %s is too old (410); re-listing", self.name, resource_version)
                resource_version = None
                self._restarted("410 Gone")
            except ApiException as exc:
                if self._stop.is_set():
                    break
                if exc.status == 401 and credentials_refreshed:
                    credentials_refreshed = False  # after this pause, one more fresh credential may help
                elif exc.status == 401 and self._refresh_credentials is not None:
                    credentials_refreshed = True
                    log.info("watch %s: credentials refused (401); fetching new ones", self.name)
                    self._restarted("401 Unauthorized")
                    try:
                        self._refresh_credentials()
                        continue
                    except Exception as refresh_exc:
                        self._failed(refresh_exc)
                        continue
                if exc.status == 403 and resource_version is None and self.kind.full_read is not None:
                    self._poll()
                    continue
                self._failed(exc)
            except Exception as exc:  # broken streams, timeouts, the graph: reconnect after a pause
                if self._stop.is_set():
                    break
                self._failed(exc)
        self._set_state("stopped", False)

    def _restarted(self, why: str) -> None:
        self.status.restarts += 1
        self.status.last_error = why
        if self.metrics is not None:
            self.metrics.watch_restarted(self)

    def _failed(self, exc: BaseException) -> None:
        message = redact(f"{type(exc).__name__}: {getattr(exc, 'reason', None) or exc}")[:300]
        self._restarted(message)
        self._set_state("backoff", False)
        pause = self._backoff.next()
        log.warning("watch %s: %s; reconnecting in %.1f s", self.name, message, pause)
        self._stop.wait(pause)

    def _relist(self) -> str:
        """A complete read of the scope, swept like any complete read. Returns its resourceVersion."""
        self.drain()  # what was received before is applied first: the list supersedes it
        self._set_state("listing", self.status.connected)
        api = self._api()
        if self.kind.before_list is not None:
            self.kind.before_list(api)
        group, version = self.kind.group_version
        listed_version: list[str] = []

        def fetch(token: str | None) -> dict[str, Any]:
            extra: dict[str, Any] = {"limit": PAGE_SIZE, "_request_timeout": self.settings.read_timeout.total_seconds()}
            if token:
                extra["_continue"] = token
            body = cast(dict[str, Any], api.list_cluster_custom_object(group, version, self.kind.plural, **extra))
            if not listed_version:
                listed_version.append(str((body.get("metadata") or {}).get("resourceVersion") or ""))
            return body

        seen: dict[str, Record] = {}

        def records() -> Iterator[Record]:
            for obj in paged_items(fetch):
                record = self.kind.to_record(obj)
                if record is not None:
                    seen[record.uid] = record
                    yield record

        run = self.ingest.scope(self.kind.scope)
        try:
            run.write(records())
        except BaseException as exc:
            run.fail(exc)  # a failed list deletes nothing
            raise
        # What the sweep is about to delete went away while the watch was not looking: what it
        # pointed at is marked the same way a DELETED event would mark it.
        gone = [uid for uid in self._known if uid not in seen]
        mark_owner_changed(self.ingest.graph, self.kind.scope.kind, gone, datetime.now(UTC))
        run.complete()
        self._last_list = time.monotonic()
        self._resync_requested = False
        self.status.lists += 1
        self._notify_relist(seen)
        if not listed_version or not listed_version[0]:
            raise RuntimeError(f"the list of {self.kind.plural} has no resourceVersion")
        self.status.resource_version = listed_version[0]
        self.status.last_confirmed_at = time.time()
        self._set_state("watching", True)
        return listed_version[0]

    def _notify_relist(self, seen: dict[str, Record]) -> None:
        """Tell listeners what the list changed against what the watch knew (missed while away)."""
        now = time.time()
        changes = []
        for uid, record in seen.items():
            before = self._known.get(uid)
            if before is None:
                changes.append(Change("ADDED", record, now))
            elif before != record:
                changes.append(Change("MODIFIED", record, now, previous=before))
        for uid, before in self._known.items():
            if uid not in seen:
                changes.append(Change("DELETED", before, now, previous=before))
        if self.status.lists == 1:
            for change in changes:
                change.initial = True
        self._known = seen
        if changes:
            self._tell(changes, now)

    def _poll(self) -> None:
        """No cluster-wide list (403): read the scope the collector's way, then wait a resync interval."""
        assert self.kind.full_read is not None
        self._set_state("polling", False)
        log.info("watch %s: %s may not be listed cluster-wide; polling every %s instead of watching",
                 self.name, self.kind.plural, self.settings.resync_interval)
        try:
            with self.ingest.scope(self.kind.scope) as run:
                run.write(self.kind.full_read())
        except Exception as exc:
            self._failed(exc)
            return
        self._stop.wait(self.settings.resync_interval.total_seconds())

    def _follow(self, resource_version: str) -> str:
        """One watch request from `resource_version` until the server ends it. Returns where it got to."""
        group, version = self.kind.group_version
        api = self._api()
        current = watch.Watch()
        self._watch = current
        if self._stop.is_set():
            return resource_version
        timeout = max(1, int(self.settings.watch_timeout.total_seconds()))
        resync_left = self.settings.resync_interval.total_seconds() - (time.monotonic() - self._last_list)
        timeout = max(1, min(timeout, int(resync_left) + 1))
        try:
            stream = current.stream(api.list_cluster_custom_object, group, version, self.kind.plural,
                                    resource_version=resource_version, allow_watch_bookmarks=True,
                                    timeout_seconds=timeout,
                                    _request_timeout=(CONNECT_TIMEOUT, self.settings.read_timeout.total_seconds()))
            for event in stream:
                received = time.time()
                kind = event.get("type")
                obj = event.get("raw_object") or {}
                version_now = str((obj.get("metadata") or {}).get("resourceVersion") or "") or resource_version
                if kind == "BOOKMARK":
                    self._queue.put(Change("BOOKMARK", None, received, version_now))
                elif kind in ("ADDED", "MODIFIED", "DELETED"):
                    self._queue.put(Change(kind, self.kind.to_record(obj), received, version_now))
                else:
                    continue
                resource_version = version_now
                self.status.resource_version = resource_version
                if not self.status.connected:
                    self._set_state("watching", True)
        except ApiException as exc:
            if exc.status == 410:
                raise _Gone() from None
            raise
        except (HTTPError, OSError, ValueError) as exc:
            if self._stop.is_set() or self._resync_requested:  # we cut it ourselves
                return resource_version
            raise ConnectionError(f"watch stream broke: {type(exc).__name__}") from exc
        finally:
            self._watch = None
        return resource_version

    # -- writer ---------------------------------------------------------------------------------
    def _write_loop(self) -> None:
        try:  # Neo4j plans the batch statement now, not when the first event waits for it
            prepare_changes(self.ingest, self.kind.scope, [self.kind.scope.kind])
        except Exception as exc:  # the graph being down is found (and retried) with the first batch
            log.debug("watch %s: could not prepare its statement: %s", self.name, type(exc).__name__)
        size = self.settings.batch_size
        latency = self.settings.batch_latency.total_seconds()
        while True:
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            batch = [first]
            deadline = time.monotonic() + latency
            while len(batch) < size:
                # What queued while the last batch committed is always taken (that batching costs no
                # latency); waiting for more stops at `batch_latency` after the first event.
                remaining = deadline - time.monotonic()
                try:
                    batch.append(self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                try:
                    self._apply(batch)
                except Exception as first:  # e.g. a node deleted under a concurrent statement: once more
                    log.info("watch %s: retrying a batch after %s", self.name, type(first).__name__)
                    self._apply(batch)
            except Exception as exc:
                # The graph refused the batch: nothing after it may be confirmed. Re-list once the
                # graph answers again; the list reconciles whatever this batch held.
                log.error("watch %s: could not apply %d events: %s", self.name, len(batch),
                          redact(f"{type(exc).__name__}: {exc}")[:300])
                self.status.last_error = f"apply failed: {type(exc).__name__}"
                self.request_resync()
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _apply(self, batch: list[Change]) -> None:
        last: dict[str, Change] = {}
        for change in batch:
            if change.record is not None:
                last.pop(change.record.uid, None)  # keep the order of the last change per object
                last[change.record.uid] = change
        changes = list(last.values())
        upserts = [c.record for c in changes if c.type != "DELETED" and c.record is not None]
        deletes = [(c.record.label, c.record.uid) for c in changes if c.type == "DELETED" and c.record is not None]
        as_of = max(c.received for c in batch)
        confirmed = datetime.fromtimestamp(as_of, UTC)
        if changes:  # the changes and the confirmation commit together, in one transaction
            apply_changes(self.ingest, self.kind.scope, upserts, deletes, confirm_as_of=confirmed)
            self.status.last_confirmed_at = as_of
        elif as_of - (self.status.last_confirmed_at or 0.0) >= CONFIRM_IDLE_SECONDS:
            # bookmarks alone move the Collection at most once a second
            confirm_complete(self.ingest.graph, self.kind.scope, confirmed)
            self.status.last_confirmed_at = as_of
        committed = time.time()
        applied = [c for c in batch if c.record is not None]
        if applied:
            self.status.events_applied += len(applied)
            self.status.last_event_at = committed
            self.status.last_lag = committed - applied[-1].received
            if self.metrics is not None:
                self.metrics.watch_applied(self, applied, committed)
        for change in changes:
            assert change.record is not None
            change.previous = self._known.get(change.record.uid)
            if change.type == "DELETED":
                self._known.pop(change.record.uid, None)
            else:
                self._known[change.record.uid] = change.record
        if changes:
            self._tell(changes, committed)

    def _tell(self, changes: list[Change], committed: float) -> None:
        for listener in list(self.listeners):
            try:
                listener(self, changes, committed)
            except Exception:
                log.exception("watch %s: a listener failed", self.name)
