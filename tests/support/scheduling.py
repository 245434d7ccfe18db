"""A scheduler fast enough for tests, and a record of what its jobs did that tests can wait on.

Nothing is timed: tests wait on conditions with generous timeouts and then check what happened.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from graphinv.scheduler.backoff import Backoff
from graphinv.scheduler.service import Outcome, SchedulerService
from graphinv.scheduler.settings import CollectJobSpec, MetricsEndpoint, Schedule, SchedulerSettings

WAIT = 120.0  # generous: the machine is shared; nothing asserts speed


def job(source: str, interval: float, kinds: frozenset[str] | None = None) -> CollectJobSpec:
    return CollectJobSpec(id=f"collect:{source}", source=source, schedule=Schedule(interval=interval), kinds=kinds)


def fast(*jobs: CollectJobSpec, attempts: int = 1, backoff: float = 0.01) -> SchedulerSettings:
    return SchedulerSettings(retry=Backoff(attempts=attempts, base=backoff, maximum=5.0), misfire_grace=60,
                             metrics=MetricsEndpoint(enabled=False), shutdown_timeout=WAIT, jobs=jobs)


class Outcomes:
    """Collects job outcomes as the scheduler reports them; tests wait on conditions over them."""

    def __init__(self, service: SchedulerService) -> None:
        self.items: list[tuple[str, Outcome]] = []
        self._changed = threading.Condition()
        service.listeners.append(self._add)

    def _add(self, job_id: str, outcome: Outcome) -> None:
        with self._changed:
            self.items.append((job_id, outcome))
            self._changed.notify_all()

    def of(self, job_id: str) -> list[Any]:
        with self._changed:
            return [o for j, o in self.items if j == job_id]

    def wait(self, condition: Callable[[], bool], timeout: float = WAIT) -> bool:
        with self._changed:
            return self._changed.wait_for(condition, timeout)
