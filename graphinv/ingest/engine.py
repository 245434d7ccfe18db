"""Scope runs: write a scope's records in batches, then sweep only if the whole read succeeded."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from types import TracebackType
from typing import Any, TypeVar

from neo4j import ManagedTransaction

from collectors.records import Record
from collectors.scope import Scope
from graph_schema.base import DerivedKey
from graph_schema.cloud import PROVIDER_LABELS
from graph_schema.registry import node_class, property_names
from graph_schema.surfaces import properties
from graphinv.db import Graph
from graphinv.ingest import changes
from graphinv.ingest.changes import PROMOTE_CHUNK, remembered
from graphinv.ingest.cypher import (
    KEEP_PLAN,
    finish_query,
    release_claims_clause,
    sweep_query,
    upsert_query,
)
from graphinv.redact import redact

log = logging.getLogger(__name__)
T = TypeVar("T")
Transact = Callable[[Callable[[ManagedTransaction], Any]], Any]

# Rows per UNWIND batch. Chosen from bench/ingest.py on the 2-core reference machine (see README):
# throughput is flat from 2k to 10k rows and transaction memory stays far below the 1 GiB cap.
DEFAULT_BATCH_SIZE = 5000
SWEEP_CHUNK = 10_000
# Who reads a scope, on its Collection node: a later run on this host marks failed a `running` scope
# whose process is gone, and the error of a scope failed for its silence names it
# (graphinv.collect.recover_interrupted).
OWNER = f"{socket.gethostname()}:{os.getpid()}"


def _now() -> datetime:
    return datetime.now(UTC)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)


def _value(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True) if value else None
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _packed(value: Any) -> Any:
    """`_value`, with a datetime as integer epoch microseconds: the driver packs an integer for almost
    nothing, a datetime (with its time zone) costs about half of the client's packing time. The upsert
    turns it back into a DateTime (graphinv/ingest/cypher.py, `from_micros`), so the graph is unchanged."""
    if isinstance(value, datetime):
        return ((value if value.tzinfo is not None else value.replace(tzinfo=UTC)) - EPOCH) // ONE_MICROSECOND
    return _value(value)


# Values the driver takes as they are; anything else goes through _value/_packed.
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None), list})


_Layout = tuple[tuple[str, ...], tuple[tuple[str, DerivedKey], ...]]
_layouts: dict[type, _Layout] = {}


def _layout(cls: type[Record]) -> _Layout:
    """A record class's property fields and its label's derived keys, in model order, looked up once per
    class: asking neomodel for them per record (graph_schema.surfaces.derive_keys does) cost more than
    everything else the engine does to a record."""
    names = tuple(f.name for f in dataclasses.fields(cls))
    unknown = set(names) - property_names(cls.label)
    if unknown:
        raise TypeError(f"{cls.__name__} has fields the {cls.label} model does not declare: {sorted(unknown)}")
    derived = tuple((name, prop) for name, prop in properties(node_class(cls.label)).items()
                    if isinstance(prop, DerivedKey))
    layout = _layouts[cls] = (tuple(n for n in names if n != "uid"), derived)
    return layout


_salts: dict[tuple[str, str], bytes] = {}


def _salt(label: str, day: str) -> bytes:
    """What a content hash covers besides the record: the label's upsert statement (so a release that
    links, derives or stores differently writes every node whole once) and the UTC day (so every node
    is written whole at least once a day, which puts back anything changed behind the engine's back,
    e.g. by hand in Neo4j Browser)."""
    salt = _salts.get((label, day))
    if salt is None:
        salt = _salts[(label, day)] = hashlib.blake2b(f"{upsert_query(label)}\n{day}".encode(),
                                                       digest_size=16).digest()
    return salt


def content_hash(label: str, props: dict[str, Any], day: str | None = None) -> str:
    """A digest of what the upsert would write from a record: names and values in model order (the
    values as the engine sends them: plain types, JSON text, epoch microseconds, all with a stable
    `repr`). Equal digests mean the node already holds the record, so the upsert only refreshes it."""
    day = day or datetime.now(UTC).date().isoformat()
    return hashlib.blake2b(_salt(label, day) + repr(list(props.items())).encode(), digest_size=16).hexdigest()


def record_row(record: Record, pack_times: bool = False) -> dict[str, Any]:
    """A record as a row: key plus properties. `pack_times`: datetimes as epoch microseconds, the form
    the engine's upsert statement (graphinv/ingest/cypher.py) takes, with the properties' content hash."""
    cls = type(record)
    names, derived = _layouts.get(cls) or _layout(cls)
    convert = _packed if pack_times else _value
    props: dict[str, Any] = {}
    for name in names:
        value = getattr(record, name)
        props[name] = value if type(value) in _PLAIN_TYPES else convert(value)
    for name, key in derived:  # link keys the model derives (a resource's account, region, shoot)
        if props.get(name) is None:
            props[name] = key.derive(props)
    if not record.uid:
        raise ValueError(f"{cls.__name__} without uid: {props.get('name')!r}")
    if pack_times:
        return {"uid": record.uid, "props": props, "hash": content_hash(cls.label, props)}
    return {"uid": record.uid, "props": props}


@dataclass
class ScopeRunResult:
    scope: Scope
    status: str  # complete | failed
    written: dict[str, int] = field(default_factory=dict)
    swept: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def total_written(self) -> int:
        return sum(self.written.values())

    @property
    def total_swept(self) -> int:
        return sum(self.swept.values())


@dataclass
class _Batch:
    """One upsert statement's worth of rows, ready to send."""

    label: str
    query: str
    params: dict[str, Any]

    @property
    def rows(self) -> int:
        return len(self.params["batch"]["rows"])


class BatchWriter:
    """Buffers records per label and writes each full buffer as one UNWIND statement."""

    def __init__(self, ingest: Ingest, scope_key: str, source: str, run_id: str, now: datetime,
                 transact: Transact | None = None) -> None:
        self.ingest = ingest
        # How a batch gets its transaction: a scope run's own (it may carry the scope's start along).
        self.transact: Transact = transact or ingest.graph.write
        self.params = {"now": now, "source": source, "scope": scope_key, "run_id": run_id}
        self.written: dict[str, int] = {}
        self._buffers: dict[tuple[str, str | None], list[dict[str, Any]]] = {}

    def write(self, records: Iterable[Record]) -> int:
        count = 0
        for record in records:
            provider = getattr(record, "provider", None)
            extra = PROVIDER_LABELS.get(provider) if isinstance(provider, str) else None
            buffer = self._buffers.setdefault((record.label, extra), [])
            buffer.append(record_row(record, pack_times=True))
            count += 1
            if len(buffer) >= self.ingest.batch_size:
                self._flush(record.label, extra)
        return count

    def _take(self, label: str, extra: str | None) -> _Batch | None:
        rows = self._buffers.get((label, extra))
        if not rows:
            return None
        self._buffers[(label, extra)] = []
        query = upsert_query(label, self.ingest.capture_changes and remembered(label) is not None)
        return _Batch(label, query, {"batch": {"rows": rows, "extra_labels": [extra] if extra else []}, **self.params})

    def take(self) -> list[_Batch]:
        """Everything buffered, as statements the caller sends in a transaction of its own choosing
        (then `sent` them); the buffers are empty afterwards."""
        return [batch for label, extra in list(self._buffers) if (batch := self._take(label, extra))]

    def sent(self, batches: Iterable[_Batch]) -> None:
        """`batches` were committed: count them."""
        for batch in batches:
            self.ingest.round_trips += 1
            self.written[batch.label] = self.written.get(batch.label, 0) + batch.rows

    def send(self, batches: list[_Batch]) -> None:
        """`batches` in one transaction of their own."""
        # every row is written: whole, or only refreshed where the node already holds it
        self.transact(lambda tx: _send(tx, batches))
        self.sent(batches)

    def _flush(self, label: str, extra: str | None) -> None:
        batch = self._take(label, extra)
        if batch is not None:
            self.send([batch])

    def flush(self) -> None:
        for label, extra in list(self._buffers):
            self._flush(label, extra)


def _send(tx: ManagedTransaction, batches: Iterable[_Batch]) -> None:
    for batch in batches:
        tx.run(batch.query, batch.params).consume()


def context_writer(ingest: Ingest, scope: Scope, now: datetime) -> BatchWriter:
    """A writer for the records that frame `scope` (its account and region): they have a scope of their
    own per source and account, which no read sweeps."""
    return BatchWriter(ingest, f"{scope.source}:{scope.account}:context", scope.source, "context", now)


class ScopeRun:
    """One read of one scope. Use as a context manager: a clean exit completes (and sweeps), an
    exception marks the scope failed and sweeps nothing; the exception propagates.

    A commit costs Neo4j a log flush and the writer a few round trips, far more than a small
    statement, and most scopes are small: so a scope's start (its Collection says `running`, with
    the records that frame it) is one transaction, and its end one more when nothing is stale
    (the last batches, the stale checks, publishing its changes and the Collection's `complete`).
    Full batches in between are a transaction each, and a transaction never carries more than one
    batch's worth of rows (`Ingest.batch_size`), so its memory stays bounded. A failure is recorded
    on its own, after the rest, so a transaction that failed cannot take that record with it.

    `defer_start`: the start waits for the scope's first transaction (a full batch, the end or the
    failure) or for `begin()`, so a small scope read in one go is ONE transaction. Until then the
    graph holds nothing of this run, not even `running`: the caller decides how long a read may go
    unmarked (graphinv.collect begins a start that waited a second). `on_running` is called when the
    start is committed by a transaction that leaves the Collection `running`: not when it goes with
    the scope's end, where the Collection never says `running` to anyone."""

    def __init__(self, ingest: Ingest, scope: Scope, context: Iterable[Record] = (), defer_start: bool = False,
                 on_running: Callable[[], None] | None = None) -> None:
        self.graph = ingest.graph
        self.scope = scope
        self.run_id = uuid.uuid4().hex
        self.started = _now()
        self.writer = BatchWriter(ingest, scope.key, scope.source, self.run_id, self.started, self._transact)
        self.result = ScopeRunResult(scope=scope, status="running", written=self.writer.written)
        self._closed = False
        self._unsent: list[_Batch] = []
        self._start: _Start | None = self._prepare_start(context, on_running)
        if not defer_start:
            self.begin()

    @property
    def start_pending(self) -> bool:
        """The start waits for the scope's first transaction: the graph holds nothing of this run yet."""
        return self._start is not None

    def begin(self) -> None:
        """Record the start now (the Collection says `running`), if it still waits."""
        if self._start is not None:
            self._transact(lambda tx: None)

    def write(self, records: Iterable[Record]) -> int:
        return self.writer.write(records)

    def flush(self) -> None:
        self.writer.flush()

    # -- finishing --------------------------------------------------------------------------
    def complete(self) -> ScopeRunResult:
        """The whole scope was read: write what is buffered, sweep what this run did not see."""
        batches = self._unsent = self.writer.take()  # until committed: `fail` sends what is left
        limit = self.writer.ingest.batch_size
        while sum(batch.rows for batch in batches) > limit:  # the largest alone, before the end
            largest = max(batches, key=lambda batch: batch.rows)
            self.writer.send([largest])
            batches.remove(largest)
        written = self.result.total_written + sum(batch.rows for batch in batches)
        finish = finish_query(self.scope.labels, self.writer.ingest.capture_changes)
        params = {**self._scope_params(), "scope": self.scope.key, "at": _now(), "limit": PROMOTE_CHUNK,
                  "written": written, "swept": 0}

        def last(tx: ManagedTransaction) -> tuple[list[str], int]:
            _send(tx, batches)
            return self._finished(tx.run(finish, {**params, "finished": _now()}).single(strict=True))

        stale, promoted = self._transact(last, ending=True)
        self.writer.sent(batches)
        self._unsent = []
        for label in self.scope.labels:
            self.result.swept[label] = 0
        swept_labels: set[str] = set()
        while stale or promoted >= PROMOTE_CHUNK:  # rare: a sweep, or many changes to publish
            for label in stale:
                if label in swept_labels:  # the sweep deletes exactly what the check finds
                    raise RuntimeError(f"scope {self.scope.key} still holds unseen {label} nodes after its sweep")
                swept_labels.add(label)
                self.result.swept[label] = self._sweep(label)
            params["swept"] = self.result.total_swept
            stale, promoted = self._finished(self.graph.run_write(finish, {**params, "finished": _now()})[0])
        self.result.status = "complete"
        self._closed = True
        return self.result

    def _finished(self, row: Any) -> tuple[list[str], int]:
        """finish_query's answer: the labels with nodes to sweep, and how many changes it published."""
        stale = [label for label, count in zip(self.scope.labels, row["stale"], strict=True) if count]
        return stale, int(row["promoted"])

    def _sweep(self, label: str) -> int:
        """Delete the scope's `label` nodes this complete run did not see, in chunks of their own."""
        swept = 0
        while True:
            rows = self.graph.run_write(
                sweep_query(label, self.writer.ingest.capture_changes),
                {"scope": self.scope.key, "run_id": self.run_id, "limit": SWEEP_CHUNK,
                 "now": self.started, "source": self.scope.source},
            )
            swept += rows[0]["swept"]
            if rows[0]["swept"] < SWEEP_CHUNK:
                return swept

    def fail(self, error: BaseException | str) -> ScopeRunResult:
        """The read did not finish: keep what was written (it is real), delete nothing."""
        message = redact(error if isinstance(error, str) else f"{type(error).__name__}: {error}")
        try:
            if self._unsent:  # the records of a scope end that failed are real: keep them
                self.writer.send(self._unsent)
                self._unsent = []
            self.flush()
        except Exception as exc:  # the graph itself failing must not hide the original reason
            log.warning("scope %s: could not write buffered records after failure: %s", self.scope, exc)
        self.result.status = "failed"
        self.result.error = message
        params = self._end_params("failed", self.result.total_written, self.result.total_swept, message)
        self._transact(lambda tx: tx.run(_END_QUERY, params).consume(), ending=True)
        self._closed = True
        return self.result

    def __enter__(self) -> ScopeRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._closed:
            return
        if exc is None:
            self.complete()
        else:
            self.fail(exc)

    # -- the Collection node ----------------------------------------------------------------
    def _prepare_start(self, context: Iterable[Record], on_running: Callable[[], None] | None) -> _Start:
        """The Collection says `running`, in one transaction with the records that frame the scope
        (never swept by it: they have a scope of their own)."""
        framing = context_writer(self.writer.ingest, self.scope, self.started)
        framing.write(context)  # a context larger than a batch sends its full batches on their own
        return _Start(framing, framing.take(), {**self._scope_params(), "owner": OWNER}, on_running)

    def _transact(self, work: Callable[[ManagedTransaction], T], ending: bool = False) -> T:
        """`work` in a write transaction that first records the start, while it waits. `ending`: `work`
        records the scope's end (complete or failed)."""
        start = self._start
        if start is None:
            return self.graph.write(work)

        def started(tx: ManagedTransaction) -> T:
            _send(tx, start.batches)
            tx.run(_START_QUERY, start.params).consume()
            return work(tx)

        result = self.graph.write(started)
        self._start = None
        start.framing.sent(start.batches)
        if start.on_running is not None and not ending:
            start.on_running()
        return result

    def _end_params(self, status: str, written: int, swept: int, error: str | None) -> dict[str, Any]:
        return {**self._scope_params(), "finished": _now(), "status": status, "written": written,
                "swept": swept, "error": error}

    def _scope_params(self) -> dict[str, Any]:
        s = self.scope
        return {"key": s.key, "source": s.source, "kind": s.kind, "account": s.account,
                "region": s.region, "now": self.started, "run_id": self.run_id}


@dataclass
class _Start:
    """A scope's start, ready to send: its framing records' batches and the Collection's `running`."""

    framing: BatchWriter
    batches: list[_Batch]
    params: dict[str, Any]
    on_running: Callable[[], None] | None


_START_QUERY = """
MERGE (c:Collection {uid: $key})
ON CREATE SET c.first_seen = $now
SET c.source = $source, c.kind = $kind, c.account = $account, c.region = $region,
    c.scope = $key, c.status = 'running', c.started = $now, c.finished = null,
    c.run_id = $run_id, c.last_seen = $now, c.owner = $owner, c.heartbeat = $now
"""

_END_QUERY = """
MATCH (c:Collection {uid: $key})
WHERE c.run_id = $run_id
SET c.status = $status, c.finished = $finished, c.written = $written, c.swept = $swept,
    c.error = $error
FOREACH (_ IN CASE WHEN $status = 'complete' THEN [1] ELSE [] END |
    SET c.last_complete_started = $now, c.last_complete_finished = $finished)
"""


class Ingest:
    """Entry point of the engine for one graph."""

    def __init__(self, graph: Graph, batch_size: int = DEFAULT_BATCH_SIZE, capture_changes: bool = True) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self.graph = graph
        self.batch_size = batch_size
        self.capture_changes = capture_changes  # record what changed (graphinv/ingest/changes.py)
        self.round_trips = 0  # upsert statements sent; tests and benchmarks read it

    def scope(self, scope: Scope, context: Iterable[Record] = (), defer_start: bool = False,
              on_running: Callable[[], None] | None = None) -> ScopeRun:
        """Start a read of `scope`; `context`: records that frame it (see `write_context`), written in
        the same transaction as the start. `defer_start`, `on_running`: see ScopeRun."""
        return ScopeRun(self, scope, context, defer_start, on_running)

    def write_context(self, scope: Scope, records: Iterable[Record]) -> None:
        """Upsert records that frame a scope (its account and region); no scope ever sweeps them."""
        writer = context_writer(self, scope, _now())
        writer.write(records)
        writer.flush()


# -- changes from watches: upserts and deletes in one scope, without a sweep ---------------------
# A watch (graphinv/watch) knows exactly what changed, so it must not sweep: a sweep would delete
# everything the batch did not mention. Upserts use the same statements as a read; a delete
# removes the named nodes of that scope only; a batch is one transaction. Nodes a changed or deleted node pointed at get
# `owner_changed_at`: the orphan rules use it to wait for a newer read of those nodes (see
# docs/ownership.md, "Live Gardener side, older cloud side").
WATCH_RUN_ID = "watch"


@dataclass
class ChangeResult:
    written: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)


def _mark_owner_changed_query(label: str, uids: str = "$uids") -> str:
    from graphinv.ingest.cypher import stamp_owned_clause

    return (f"UNWIND {uids} AS uid MATCH (n:`{label}` {{uid: uid}})\n"
            f"{stamp_owned_clause('n', '$now')}\nRETURN count(n) AS marked")


def mark_owner_changed(graph: Graph, label: str, uids: list[str], now: datetime) -> int:
    """Before nodes change or go: what they point at gets `owner_changed_at` = `now`."""
    if not uids:
        return 0
    return int(graph.run_write(_mark_owner_changed_query(label), {"uids": uids, "now": now})[0]["marked"])


# Publishes a scope's pending changes inside the batch's transaction (the batch's own, and any a
# failed re-list left pending: the watch's view of the scope is complete again).
_PROMOTE_ALL_QUERY = "MATCH (c:Change {pending: $scope})\n" + changes.publish_clause() + "RETURN count(c) AS promoted\n"


def _delete_query(label: str, capture: list[str], uids: str = "$uids") -> str:
    captured = "".join(line + "\n" for line in capture)
    return (f"UNWIND {uids} AS uid MATCH (n:`{label}` {{uid: uid}}) WHERE n.scope = $scope\n"
            f"{captured}{release_claims_clause(label)}DETACH DELETE n\nRETURN count(*) AS deleted")


def _indented(text: str) -> str:
    return "\n".join("  " + line for line in text.strip("\n").splitlines())


@cache
def change_query(label: str, capture: bool) -> str:
    """ONE statement for a watch batch's changes to `label`, in this order: owner stamps
    ($batch.marks: uids), upserts ($batch.groups: one {rows, extra_labels} per provider label),
    deletes ($batch.deletes: uids), publication of the scope's pending changes ($batch.promote: []
    or [at]) and the scope's confirmation ($batch.confirm: [] or [{kind, account, region, as_of}]).
    A part with an empty list does nothing.

    Why one text per label rather than a statement per part: a watch batch is a handful of events,
    and Neo4j runs each of these statements in about a millisecond once planned, so a batch's cost
    was its round trips (five per batch, each a wait of the writer thread) and the plans. The text
    depends on the label and `capture` only, never on the batch (which parts it uses, which
    providers it holds), so each is planned once and, with KEEP_PLAN, kept as the graph grows;
    `prepare_changes` plans it before the first event. The parts come in one map, $batch, because
    Neo4j caches a plan per text AND per parameter type, where an empty list and a list of strings
    or maps are different types: five list parameters, each empty or not, made up to 32 plans of
    the same text, each planned (about a second) the first time a batch had that shape."""
    grouped = upsert_query(label, capture and remembered(label) is not None, rows="group.rows",
                           extra_labels="group.extra_labels").removeprefix(KEEP_PLAN)
    delete = _delete_query(label, changes.capture_sweep_clauses(label) if capture else [], uids="$batch.deletes")
    # the same statement as confirm_complete's, on the unwound map's fields
    confirm = CONFIRM_COMPLETE_QUERY.replace("$", "").replace("WITH c WHERE", "WITH c, as_of WHERE", 1)
    parts = [
        "CALL () {\n" + _indented(_mark_owner_changed_query(label, uids="$batch.marks")) + "\n}",
        "CALL () {\n  UNWIND $batch.groups AS group\n  CALL (group) {\n" + _indented(_indented(grouped))
        + "\n  }\n  RETURN sum(size(group.rows)) AS written\n}",
        "CALL () {\n" + _indented(delete) + "\n}",
        "CALL () {\n  UNWIND $batch.confirm AS confirm\n  WITH $scope AS key, $source AS source, confirm.kind AS kind,"
        " confirm.account AS account, confirm.region AS region, confirm.as_of AS as_of\n"
        + _indented(confirm) + "\n}",
    ]
    if capture:  # before the confirmation, as apply_changes always did
        promote = _indented(_PROMOTE_ALL_QUERY.replace("$at", "at"))
        parts.insert(3, "CALL () {\n  UNWIND $batch.promote AS at\n" + promote + "\n}")
    return KEEP_PLAN + "\n".join(parts) + "\nRETURN marked, written, deleted"


# The order of a batch's parts, as change_query runs them.
_PART_ORDER = {"marks": 0, "groups": 1, "deletes": 2, "finish": 3}
_planned: set[tuple[int, str]] = set()
_planning: dict[tuple[int, str], threading.Lock] = {}
_planning_guard = threading.Lock()


def _empty_change_params(scope: Scope, moment: datetime) -> dict[str, Any]:
    return {"batch": {"marks": [], "groups": [], "deletes": [], "promote": [], "confirm": []},
            "now": moment, "source": scope.source, "scope": scope.key, "run_id": WATCH_RUN_ID}


def _plan_once(graph: Graph, query: str, scope: Scope) -> None:
    """Have Neo4j plan `query` once per graph in this process: running it with every list empty
    writes nothing and leaves its plan in the server's cache. Thirty watches meeting a new text at
    the same moment would otherwise each plan it (a second of server CPU apiece for the larger
    upserts); here one plans while the others wait for it."""
    key = (id(graph), query)
    if key in _planned:
        return
    with _planning_guard:
        lock = _planning.setdefault(key, threading.Lock())
    with lock:
        if key in _planned:
            return
        graph.run_write(query, _empty_change_params(scope, _now()))
        _planned.add(key)


def prepare_changes(ingest: Ingest, scope: Scope, labels: Iterable[str]) -> None:
    """Plan the statements `apply_changes` will send for `labels` now (a watch calls it when it
    starts), so the first events do not wait for Neo4j to plan them."""
    capture = bool(getattr(ingest, "capture_changes", False))
    for label in labels:
        _plan_once(ingest.graph, change_query(label, capture), scope)


def _finish_only(tx: ManagedTransaction, scope: Scope, moment: datetime, confirm_as_of: datetime | None,
                 capture: bool) -> None:
    if capture:
        tx.run(_PROMOTE_ALL_QUERY, {"scope": scope.key, "at": moment}).consume()
    if confirm_as_of is not None:
        tx.run(CONFIRM_COMPLETE_QUERY, _confirm_params(scope, confirm_as_of)).consume()


def apply_changes(ingest: Ingest, scope: Scope, upserts: Iterable[Record],
                  deletes: Iterable[tuple[str, str]], now: datetime | None = None,
                  confirm_as_of: datetime | None = None) -> ChangeResult:
    """Apply one batch of changes to `scope`: upsert `upserts`, delete `deletes` ((label, uid)
    pairs, only nodes of this scope). A uid must not be in both (the caller keeps the last change).
    `confirm_as_of`: also confirm the scope complete as of then (see `confirm_complete`).

    Everything happens in ONE write transaction: the owner stamps, the upserts, the deletes, the
    change capture and its publication, and the confirmation. A batch is visible whole or not at
    all, and costs one commit (one fsync) instead of one per statement, which is most of a watch
    batch's latency (bench/watch.py). A batch of one label (every watch batch) is one statement
    (`change_query`); a batch of several labels runs the same parts in the same order (all stamps,
    then all upserts, then all deletes, then publication and confirmation) as several."""
    moment = now or _now()
    result = ChangeResult()
    capture = bool(getattr(ingest, "capture_changes", False))
    gone: dict[str, list[str]] = {}
    for label, uid in deletes:
        gone.setdefault(label, []).append(uid)
    touched: dict[str, list[str]] = {label: list(uids) for label, uids in gone.items()}
    rows: dict[str, dict[str | None, list[dict[str, Any]]]] = {}
    for record in upserts:
        touched.setdefault(record.label, []).append(record.uid)
        provider = getattr(record, "provider", None)
        extra = PROVIDER_LABELS.get(provider) if isinstance(provider, str) else None
        rows.setdefault(record.label, {}).setdefault(extra, []).append(record_row(record, pack_times=True))
    # (part, label, value) in the order they must run
    steps: list[tuple[str, str, Any]] = [("marks", label, uids) for label, uids in touched.items()]
    for label, by_extra in rows.items():
        flat = [(extra, row) for extra, chunk in by_extra.items() for row in chunk]
        for at in range(0, len(flat), ingest.batch_size):
            groups: dict[str | None, list[dict[str, Any]]] = {}
            for extra, row in flat[at:at + ingest.batch_size]:
                groups.setdefault(extra, []).append(row)
            steps.append(("groups", label, [{"rows": chunk, "extra_labels": [extra] if extra else []}
                                            for extra, chunk in groups.items()]))
    steps.extend(("deletes", label, uids) for label, uids in gone.items())
    finish: dict[str, Any] = {}
    if capture:  # a watch's view of its scope is complete: its changes count at once
        finish["promote"] = [moment]
    if confirm_as_of is not None:
        finish["confirm"] = [{"kind": scope.kind, "account": scope.account, "region": scope.region,
                              "as_of": confirm_as_of}]
    if not steps:  # nothing changed: publication and confirmation alone, in one transaction
        if finish:
            ingest.graph.write(lambda tx: _finish_only(tx, scope, moment, confirm_as_of, capture))
        return result
    if finish:
        steps.append(("finish", steps[-1][1], finish))
    # Consecutive steps of one label whose parts come in change_query's order share a statement
    # (the publication and confirmation join whichever statement is last).
    statements: list[tuple[str, dict[str, Any], int]] = []  # (label, params, last part)
    for part, label, value in steps:
        last = statements[-1] if statements else None
        if last is None or last[0] != label or _PART_ORDER[part] <= last[2]:
            statements.append((label, _empty_change_params(scope, moment), -1))
        target, params, _last = statements[-1]
        params["batch"].update(value if part == "finish" else {part: value})
        statements[-1] = (target, params, _PART_ORDER[part])
    for label, _params, _last in statements:
        _plan_once(ingest.graph, change_query(label, capture), scope)

    def work(tx: ManagedTransaction) -> ChangeResult:
        out = ChangeResult()
        for label, params, _last in statements:
            row = tx.run(change_query(label, capture), params).single(strict=True)
            if params["batch"]["groups"]:
                out.written[label] = out.written.get(label, 0) + int(row["written"])
            if params["batch"]["deletes"]:
                out.deleted[label] = out.deleted.get(label, 0) + int(row["deleted"])
        return out

    result = ingest.graph.write(work)
    ingest.round_trips += sum(1 for step in steps if step[0] == "groups")
    return result


CONFIRM_COMPLETE_QUERY = """
MERGE (c:Collection {uid: $key})
ON CREATE SET c.first_seen = $as_of, c.source = $source, c.kind = $kind, c.account = $account,
              c.region = $region, c.scope = $key
WITH c WHERE c.last_complete_started IS NULL OR c.last_complete_started < $as_of
SET c.last_complete_started = $as_of, c.last_complete_finished = $as_of, c.last_seen = $as_of,
    c.status = CASE WHEN c.status = 'running' THEN c.status ELSE 'complete' END, c.watched = true
RETURN count(c) AS confirmed
"""


def _confirm_params(scope: Scope, as_of: datetime) -> dict[str, Any]:
    return {"key": scope.key, "source": scope.source, "kind": scope.kind, "account": scope.account,
            "region": scope.region, "as_of": as_of}


def confirm_complete(graph: Graph, scope: Scope, as_of: datetime) -> None:
    """A live watch vouches that the graph holds `scope` completely as of `as_of`: the Collection's
    last complete read moves forward (never back), as after a complete read."""
    graph.run_write(CONFIRM_COMPLETE_QUERY, _confirm_params(scope, as_of))


def mark_unwatched(graph: Graph, scope: Scope) -> None:
    """The watch of `scope` is down: its Collection stops moving (and says so)."""
    graph.run_write("MATCH (c:Collection {uid: $key}) SET c.watched = false", {"key": scope.key})
