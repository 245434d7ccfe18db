"""Reading collector scopes in tests the way the runner reads them, and running simulators."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from collectors.records import Record
from collectors.scope import ScopeTask


def fetch_each(tasks: list[ScopeTask]) -> tuple[dict[str, list[Record]], dict[str, Exception]]:
    """Fetch every scope like the runner does: a failing scope raises, the others complete.
    Returns the records of each complete scope and the error of each failed one, by scope key."""
    done: dict[str, list[Record]] = {}
    failed: dict[str, Exception] = {}
    for task in tasks:
        try:
            done[task.scope.key] = list(task.fetch())
        except Exception as exc:
            failed[task.scope.key] = exc
    return done, failed


class Simulator(Protocol):
    def start(self) -> Any: ...
    def stop(self) -> Any: ...


SimT = TypeVar("SimT", bound=Simulator)


@contextmanager
def running(sim: SimT) -> Iterator[SimT]:
    """The simulator started, and stopped again however the block ends."""
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()
