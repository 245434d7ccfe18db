"""One request's view of the shared Graph: read-only, counted, and bounded by the request's deadline.

It is a Graph (so `orphan_report` and `freshness` run through it unchanged) that borrows the shared
driver instead of opening its own, counts every round trip to Neo4j (tests and the response's
`extensions` read the count), and refuses writes. Each query runs in a READ transaction whose
Neo4j timeout is the time left in the request; retryable failures (lost connection, leader
switch, deadlock) are retried only while that time lasts, instead of the driver's own 60 s of
retries, so an unreachable database costs one request its timeout and no more.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import neo4j
from neo4j import ManagedTransaction
from neo4j.exceptions import ClientError, DriverError, Neo4jError

from graphinv.api.errors import GraphUnreachable, RequestTimeout
from graphinv.db import Graph, row_of

T = TypeVar("T")
FIRST_BACKOFF_SECONDS = 0.1
MAX_BACKOFF_SECONDS = 2.0


class ReadOnly(RuntimeError):
    pass


class RequestGraph(Graph):
    def __init__(self, shared: Graph, timeout_seconds: float) -> None:
        # Deliberately no super().__init__: that would open a new driver (and pool) per request.
        self.conn = shared.conn
        self.database = shared.database
        self.driver = shared.driver
        self.timeout_seconds = timeout_seconds
        self.deadline = time.monotonic() + timeout_seconds
        self._lock = threading.Lock()
        self.round_trips = 0

    def close(self) -> None:
        """The driver belongs to the shared Graph; nothing to close here."""

    def _timed_out(self) -> RequestTimeout:
        return RequestTimeout(f"the request took longer than its limit of {self.timeout_seconds:g} s")

    def _remaining(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise self._timed_out()
        return remaining

    def run_read(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return self._run(query, params, lambda result: [row_of(record) for record in result])

    def run_read_values(self, query: str, params: Mapping[str, Any] | None = None) -> list[list[Any]]:
        """Rows as lists of the values the driver decoded, without `Record.data()`'s second walk
        over every nested value (the compiled GraphQL queries return only primitives)."""
        return self._run(query, params, lambda result: [record.values() for record in result])

    def read_collected(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return self._run(query, params, lambda result: result.single(strict=True)[0])

    def _run(self, query: str, params: Mapping[str, Any] | None, consume: Callable[[neo4j.Result], T]) -> T:
        with self._lock:
            self.round_trips += 1
        backoff = FIRST_BACKOFF_SECONDS
        while True:
            remaining = self._remaining()
            try:
                with self.session(default_access_mode=neo4j.READ_ACCESS) as session:
                    result = session.run(neo4j.Query(query, timeout=remaining), dict(params or {}))
                    return consume(result)
            except ClientError as exc:
                if "TransactionTimedOut" in (exc.code or ""):
                    raise self._timed_out() from None
                raise
            except (Neo4jError, DriverError) as exc:
                if not exc.is_retryable():
                    raise
                if self.deadline - time.monotonic() <= backoff:
                    raise GraphUnreachable("the graph database is not reachable right now") from None
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def read(self, work: Callable[[ManagedTransaction], T]) -> T:
        with self._lock:
            self.round_trips += 1
        return super().read(work)

    def run_write(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        raise ReadOnly("the API is read-only")

    def write(self, work: Callable[[ManagedTransaction], T]) -> T:
        raise ReadOnly("the API is read-only")

    async def fetch(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """run_read off the event loop (the driver is synchronous)."""
        return await asyncio.to_thread(self.run_read, query, params)
