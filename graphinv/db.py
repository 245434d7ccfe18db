"""The one way graphinv talks to Neo4j: a driver per process, managed transactions for every query.

Managed transactions (`execute_read` / `execute_write`) give us the driver's retry of transient
errors (deadlocks, leader switches, lost connections) with exponential backoff; a transaction
function either commits whole or not at all, so a batch never half-applies.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import neo4j
from neo4j import GraphDatabase, ManagedTransaction, Record
from neo4j.exceptions import AuthError, ServiceUnavailable
from neo4j.graph import Node, Path, Relationship

from graphinv.settings.neo4j import Neo4jConnection

T = TypeVar("T")

# How long the driver keeps retrying a transaction function on transient errors.
MAX_RETRY_SECONDS = 60.0


# What `Record.data()` converts (recursively): graph entities and containers. A row without them is
# returned as is, skipping a conversion that costs about as much as receiving the row.
_CONVERTED = (Node, Relationship, Path, dict, list)


def row_of(record: Record) -> dict[str, Any]:
    """`record.data()`, cheaply where it would change nothing (scalars and lists of scalars)."""
    for value in record:
        if isinstance(value, _CONVERTED) and not (
                type(value) is list and not any(isinstance(item, _CONVERTED) for item in value)):
            return record.data()
    return dict(zip(record.keys(), record, strict=True))


def _pipelined_begin(session: neo4j.Session) -> contextlib.AbstractContextManager[Any]:
    """Within it, the session's next transaction sends its BEGIN together with its first query
    instead of waiting for the server's answer to BEGIN first: one round trip less per transaction,
    with the same retries. The driver's own `execute_query` does exactly this, but runs one query
    only; the switch is not public, so without it (another driver release) transactions simply
    begin as before. A collection's writer sends hundreds of small transactions, and under load
    each round trip costs it several milliseconds."""
    switch: contextlib.AbstractContextManager[Any] = getattr(session, "_pipelined_begin", contextlib.nullcontext())
    return switch


class GraphUnavailable(RuntimeError):
    """Neo4j cannot be reached or refuses us; the message is meant for a human."""


class Graph:
    """A driver plus the database name; small helpers for managed read and write transactions."""

    def __init__(self, conn: Neo4jConnection, max_retry_seconds: float = MAX_RETRY_SECONDS) -> None:
        self.conn = conn
        self.database = conn.database
        self.driver = GraphDatabase.driver(
            conn.uri, auth=conn.auth, max_transaction_retry_time=max_retry_seconds,
            user_agent="graphinv",
            # "Property/label does not exist" hints are normal on a young graph (no disk was ever
            # detached yet) and the driver would log each of them as a warning on every report.
            notifications_disabled_classifications=["UNRECOGNIZED"],
        )
        # Transaction functions the driver ran again after a transient error (deadlock, lost
        # connection): how much concurrent writers contend. Benchmarks and the worker report it.
        self.tx_retries = 0
        # Write transactions committed: each costs a commit (a log flush) and its round trips, so
        # the engine groups statements into few of them; tests and benchmarks read it.
        self.write_transactions = 0

    def close(self) -> None:
        self.driver.close()

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def verify(self) -> str:
        """Check the server answers; return its version string."""
        try:
            self.driver.verify_connectivity()
            info = self.driver.get_server_info()
        except ServiceUnavailable as exc:
            raise GraphUnavailable(f"Neo4j is not reachable at {self.conn.uri}: {exc}") from None
        except AuthError:
            raise GraphUnavailable(
                f"Neo4j at {self.conn.uri} refused the credentials for user {self.conn.user!r}"
            ) from None
        return info.agent.split("/", 1)[-1]

    def session(self, **kwargs: Any) -> neo4j.Session:
        return self.driver.session(database=self.database, **kwargs)

    def write(self, work: Callable[[ManagedTransaction], T]) -> T:
        calls = 0

        def counted(tx: ManagedTransaction) -> T:
            nonlocal calls
            calls += 1
            if calls > 1:
                self.tx_retries += 1
            return work(tx)

        with self.session() as session, _pipelined_begin(session):
            result = session.execute_write(counted)
        self.write_transactions += 1
        return result

    def read(self, work: Callable[[ManagedTransaction], T]) -> T:
        with self.session(default_access_mode=neo4j.READ_ACCESS) as session:
            return session.execute_read(work)

    def run_write(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """One query in one managed write transaction; returns the rows as dicts."""

        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            return [row_of(record) for record in tx.run(query, dict(params or {}))]

        return self.write(work)

    def run_read(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            return [row_of(record) for record in tx.run(query, dict(params or {}))]

        return self.read(work)

    def read_collected(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The rows of a query that returns them all in one record, as one list of maps in one column
        (`RETURN collect({...}) AS rows`), in the query's order. The driver's cost is per record: one
        record holding every row as a list of maps decodes about 5x faster than one record per row
        (bench/queries.py --report)."""

        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = tx.run(query, dict(params or {})).single(strict=True)[0]
            return rows

        return self.read(work)
