"""Alerts that run "after-collect": only once every source they read has been collected again.

An orphan alert for a cloud must judge that cloud's VMs against Gardener machines read in the same
cycle; run before the machines, it would see every VM created since the last machine read as
unverified, and run before the cloud, it would miss new leaks for an hour. So each alert waits for
one finished run of each of its sources (any job of the source, whatever its outcome: a failed read
makes the alert say `unverified`, which is the truth) since its own last start.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable


class CollectionBarrier:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._finished: Counter[str] = Counter()  # source -> job runs finished so far
        self._waiters: dict[str, tuple[str, ...]] = {}  # alert -> sources it waits for
        self._seen: dict[str, dict[str, int]] = {}  # alert -> source -> count when the alert last started

    def add(self, alert: str, sources: Iterable[str]) -> None:
        with self._lock:
            self._waiters[alert] = tuple(sorted(set(sources)))
            self._seen[alert] = {s: self._finished[s] for s in self._waiters[alert]}

    def waits_for(self, alert: str) -> tuple[str, ...]:
        return self._waiters.get(alert, ())

    def collection_finished(self, source: str) -> list[str]:
        """Count a finished job run of `source`; return the alerts that may now run."""
        with self._lock:
            self._finished[source] += 1
            return [alert for alert, sources in self._waiters.items()
                    if source in sources and self._ready(alert)]

    def _ready(self, alert: str) -> bool:
        seen = self._seen[alert]
        return all(self._finished[s] > seen[s] for s in self._waiters[alert])

    def claim(self, alert: str) -> bool:
        """Called as the alert starts: True (and the wait begins anew) if it was ready."""
        with self._lock:
            if alert not in self._waiters or not self._ready(alert):
                return False
            self._seen[alert] = {s: self._finished[s] for s in self._waiters[alert]}
            return True
