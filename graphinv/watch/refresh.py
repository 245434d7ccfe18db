"""Targeted cloud re-reads: when a Machine appears, goes or changes its providerID, re-read that one VM
(with its disks and addresses) in its cloud, so the cloud side confirms within seconds instead of
waiting for the next full read.

- `VmReader` is what a provider implements (graphinv/watch/<provider>_refresh.py; readers.py picks
  those of the configured clouds). The engine knows no cloud: a reader
  returns records per scope, written through `apply_changes` (no sweep, no freshness claimed: a
  targeted read proves nothing about the rest of its scope). The VM's `last_seen` moves, which is
  what the orphan rules compare a Machine's disappearance with (docs/ownership.md, section 6).
- Debounced: every event for a VM pushes its re-read `debounce` into the future, so a burst of
  events (ADDED, MODIFIED with providerID, ...) makes one re-read.
- Rate-limited per cloud account (a token bucket of `per_account_per_minute`).
- Failures are logged and counted; the VM then waits for the scheduled full read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from collectors.provider_ids import instance_uid
from collectors.records import Record
from collectors.scope import Scope
from graphinv.ingest import Ingest
from graphinv.ingest.engine import apply_changes
from graphinv.redact import redact
from graphinv.watch.settings import CloudRefreshSettings
from graphinv.watch.stream import Change, ResourceWatch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VmTarget:
    provider: str  # aws | gcp | azure | openstack (the providerID's scheme)
    instance_uid: str  # the Instance key the cloud collector writes
    provider_id: str
    cluster: str | None  # the shoot's technical id (to find its account in the graph)


class VmReader(Protocol):
    provider: str

    def account_of(self, target: VmTarget, known_account: str | None) -> str:
        """The cloud account to charge the re-read to (for the rate limit)."""
        ...

    def read(self, target: VmTarget, known_account: str | None) -> list[tuple[Scope, list[Record]]] | None:
        """The VM with its disks and addresses, per scope; None when no configured account has it."""
        ...


def provider_of(provider_id: str) -> str | None:
    scheme = provider_id.split("://", 1)[0].lower() if "://" in provider_id else ""
    return {"aws": "aws", "gce": "gcp", "azure": "azure", "openstack": "openstack"}.get(scheme)


def targets_of(change: Change) -> list[VmTarget]:
    """The VMs a Machine change concerns: its VM when it appears or goes, both when providerID moves."""
    if change.initial or change.record is None or change.record.label != "Machine":
        return []
    now, before = change.record, change.previous
    ids: list[str | None] = []
    if change.type in ("ADDED", "DELETED"):
        ids = [now.provider_id]
    elif before is None or before.provider_id != now.provider_id:
        ids = [before.provider_id if before else None, now.provider_id]
    out = []
    for pid in ids:
        provider = provider_of(pid) if pid else None
        uid = instance_uid(pid) if pid else None
        if provider and uid:
            out.append(VmTarget(provider, uid, pid or "", now.namespace or None))
    return out


class _Bucket:
    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.tokens = self.capacity
        self.clock = clock
        self.stamp = clock()

    def take(self) -> float:
        """0 when a token was taken, else the seconds until one is there."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class RefreshStats:
    scheduled: int = 0  # events that asked for a re-read
    reads: int = 0  # re-reads done
    not_found: int = 0
    failed: int = 0
    delayed: int = 0  # re-reads that waited for the account's rate limit


class TargetedRefresh:
    """A listener for Machine watches, and the thread that runs the re-reads."""

    def __init__(self, ingest: Ingest, readers: Sequence[VmReader], settings: CloudRefreshSettings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ingest = ingest
        self.readers = {r.provider: r for r in readers}
        self.settings = settings
        self.clock = clock
        self.stats = RefreshStats()
        self.done: list[VmTarget] = []  # the last re-reads, newest last (tests, `graphinv watch`)
        self._due: dict[VmTarget, float] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watch-refresh", daemon=True)

    def start(self) -> TargetedRefresh:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        self._thread.join(10)

    # -- the listener -----------------------------------------------------------------------------
    def __call__(self, _watch: ResourceWatch, changes: list[Change], _committed: float) -> None:
        debounce = self.settings.debounce.total_seconds()
        with self._wake:
            for change in changes:
                for target in targets_of(change):
                    if target.provider not in self.readers:
                        continue  # no reader for this cloud: the schedule covers it
                    self._due[target] = self.clock() + debounce  # a later event pushes it out again
                    self.stats.scheduled += 1
            self._wake.notify_all()

    def pending(self) -> int:
        with self._wake:
            return len(self._due)

    # -- the worker -------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                now = self.clock()
                ready = sorted((t for t, due in self._due.items() if due <= now), key=lambda t: self._due[t])
                if not ready:
                    wait = min(self._due.values(), default=now + 1.0) - now
                    self._wake.wait(max(0.01, min(wait, 1.0)))
                    continue
                target = ready[0]
                del self._due[target]
            self._refresh(target)

    def _known_account(self, target: VmTarget) -> str | None:
        rows = self.ingest.graph.run_read(
            "OPTIONAL MATCH (i:Instance {uid: $uid}) "
            "OPTIONAL MATCH (o:Instance {cluster: $cluster, provider: $provider}) "
            "RETURN coalesce(i.account_id, o.account_id) AS account LIMIT 1",
            {"uid": target.instance_uid, "cluster": target.cluster, "provider": target.provider})
        return rows[0]["account"] if rows else None

    def _refresh(self, target: VmTarget) -> None:
        reader = self.readers[target.provider]
        try:
            known = self._known_account(target)
            account = f"{target.provider}:{reader.account_of(target, known)}"
            bucket = self._buckets.setdefault(account, _Bucket(self.settings.per_account_per_minute, self.clock))
            wait = bucket.take()
            if wait > 0:  # over the account's budget: try again when a token is there
                self.stats.delayed += 1
                with self._wake:
                    self._due.setdefault(target, self.clock() + wait)
                return
            found = reader.read(target, known)
            if found is None:
                self.stats.reads += 1
                self.stats.not_found += 1
                log.info("refresh: %s VM %s is in no configured account; the schedule decides", target.provider,
                         target.instance_uid)
                return
            for scope, records in found:
                if records:
                    apply_changes(self.ingest, scope, records, [])
            self.done.append(target)
            del self.done[:-1000]
            self.stats.reads += 1
        except Exception as exc:  # the next scheduled read covers this VM
            self.stats.failed += 1
            log.warning("refresh: re-reading %s VM %s failed (%s); it waits for the schedule", target.provider,
                        target.instance_uid, redact(f"{type(exc).__name__}: {exc}")[:200])
