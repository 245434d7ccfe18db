"""A scope is one complete read that the ingest engine may sweep after it: one kind of resource in
one account and region (or one seed, or the garden). A ScopeTask pairs a scope with the function
that reads it; the runner calls `fetch` on a worker thread and streams what it yields to the writer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from collectors.records import Record


@dataclass(frozen=True)
class Scope:
    source: str  # gardener | aws | gcp | azure | openstack
    account: str  # cloud account / project / subscription id; seed name; "garden"
    region: str  # region, or "global" for account-wide (aggregated) reads
    kind: str  # the label this read is complete for: Instance | Disk | IP | Machine | Shoot | ...
    # Further labels this read also writes and so may sweep (e.g. instances' own public IPs).
    extra_labels: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.source}:{self.account}:{self.region}:{self.kind}"

    @property
    def labels(self) -> tuple[str, ...]:
        return (self.kind, *self.extra_labels)

    def __str__(self) -> str:
        return self.key


@dataclass
class ScopeTask:
    scope: Scope
    fetch: Callable[[], Iterable[Record]]
    # Records written before the scope's own (account, region nodes); never swept by this scope.
    context: list[Record] = field(default_factory=list)
