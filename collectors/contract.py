"""The one contract every collector follows, and the one planner that turns it into scope tasks.

A collector (one folder per source, see collectors/README.md) is a class with:

- `source`: its name in `sources:` and in every scope key (`aws`, `gcp`, ...);
- `accounts()`: the accounts, projects or subscriptions it reads (Gardener: the garden and the
  seeds). Raising here fails the whole source for this run;
- `regions(account)`: the regions to read in that account, `ACCOUNT_WIDE` for reads that cover the
  whole account (aggregated lists). Raising here fails only that account's scopes, planned
  account-wide, so nothing of it is swept;
- `kinds(account)`: what is read there; clouds read `CLOUD_KINDS` (instances, disks, ips);
- one reader method per kind, named like the kind (`instances(account, region)`, `disks(...)`,
  `ips(...)`), yielding records;
- `context(account, region)`: records written before a scope's own (account and region nodes),
  never swept by it. `CloudCollector` provides it, Gardener writes none.

`plan(collector)` is the only place ScopeTasks are built.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel

from collectors.records import CloudAccountRecord, Record, RegionRecord
from collectors.scope import Scope, ScopeTask

Fetch = Callable[[], Iterable[Record]]
# The region of a read that covers a whole account (aggregated lists, ARM subscription lists, the
# garden), and of the failing scopes planned when an account's regions cannot be read.
ACCOUNT_WIDE = "global"


@dataclass(frozen=True)
class Kind:
    name: str  # the reader method's name: instances | disks | ips | ...
    label: str  # the graph label the read is complete for
    also: tuple[str, ...] = ()  # further labels the read writes, and so may sweep


INSTANCES = Kind("instances", "Instance")
DISKS = Kind("disks", "Disk")
IPS = Kind("ips", "IP")
CLOUD_KINDS: tuple[Kind, ...] = (INSTANCES, DISKS, IPS)
# Instances together with their own (ephemeral) public addresses, for clouds that report those
# only on the instance (AWS, GCP): the instance read is complete for those IPs too.
INSTANCES_WITH_OWN_IPS = Kind("instances", "Instance", ("IP",))


@dataclass(frozen=True)
class Account:
    id: str
    name: str | None = None
    # Region nodes written with every scope of the account, besides the scope's own region (for
    # account-wide reads: Azure's configured locations, GCP's `global`).
    region_nodes: tuple[str, ...] = ()
    # The collector's own per-account state (clients, a session, a cloud entry); never printed.
    handle: Any = field(default=None, compare=False, repr=False)


class Collector(Protocol):
    source: ClassVar[str]

    def accounts(self) -> Iterable[Account]: ...

    def regions(self, account: Account) -> Sequence[str]: ...

    def kinds(self, account: Account) -> Sequence[Kind]: ...

    def context(self, account: Account, region: str | None) -> list[Record]: ...


class RegionDiscoveryError(RuntimeError):
    """An account's regions could not be read: its scopes fail and nothing of it is swept."""


class PagingError(RuntimeError):
    """A paged list did not end: a repeated page token, a cursor that did not move, or too many pages."""


def failing(error: BaseException) -> Fetch:
    """A fetch that fails at once with `error` (a scope that could not even be planned)."""

    def fetch() -> Iterator[Record]:
        raise error
        yield  # a generator, like every other fetch

    return fetch


def reader(collector: Any, kind: Kind, account: Account, region: str) -> Fetch:
    read = getattr(collector, kind.name)

    def fetch() -> Iterable[Record]:
        return read(account, region)  # type: ignore[no-any-return,unused-ignore]

    return fetch


def plan(collector: Collector) -> list[ScopeTask]:
    """One ScopeTask per account x region x kind the collector declares."""
    tasks: list[ScopeTask] = []
    for account in collector.accounts():
        try:
            regions = list(collector.regions(account))
        except Exception as exc:  # this account's reads fail; the other accounts go on
            error = RegionDiscoveryError(f"{collector.source} account {account.id}: cannot read its regions: "
                                         f"{type(exc).__name__}: {exc}")
            context = collector.context(account, None)
            tasks += [ScopeTask(Scope(collector.source, account.id, ACCOUNT_WIDE, kind.label, kind.also),
                                failing(error), list(context))
                      for kind in collector.kinds(account)]
            continue
        for region in regions:
            context = collector.context(account, region)
            tasks += [ScopeTask(Scope(collector.source, account.id, region, kind.label, kind.also),
                                reader(collector, kind, account, region), list(context))
                      for kind in collector.kinds(account)]
    return tasks


class CloudCollector:
    """The parts every cloud shares: the three kinds and the account and region nodes."""

    source: ClassVar[str]
    instances_kind: ClassVar[Kind] = INSTANCES

    def kinds(self, account: Account) -> Sequence[Kind]:
        return (self.instances_kind, DISKS, IPS)

    def context(self, account: Account, region: str | None) -> list[Record]:
        records: list[Record] = [CloudAccountRecord(uid=f"{self.source}:{account.id}", provider=self.source,
                                                    account_id=account.id, name=account.name)]
        regions = [*([region] if region and region != ACCOUNT_WIDE else []), *account.region_nodes]
        records += [RegionRecord(uid=f"{self.source}:{r}", provider=self.source, name=r)
                    for r in dict.fromkeys(regions)]
        return records


P = TypeVar("P")
M = TypeVar("M", bound=BaseModel)


def typed(model: type[M], section: M | Mapping[str, Any]) -> M:
    """A source's settings model; a raw `sources.<name>` mapping (tests, a caller that has not
    moved to the typed tree) is validated by the same model."""
    return section if isinstance(section, model) else model.model_validate(section)


def guarded_pages(pages: Iterable[P], what: str, max_pages: int,
                  token_of: Callable[[P], Hashable | None]) -> Iterator[P]:
    """The pages of one list, failing (PagingError) when a page hands out a token an earlier page
    already gave (the cursor went back or did not move) or when there are more than `max_pages`."""
    seen: set[Hashable] = set()
    for count, page in enumerate(pages, start=1):
        if count > max_pages:
            raise PagingError(f"{what}: more than {max_pages} pages; the list does not end "
                              f"(raise max_pages if it really is this long)")
        yield page
        token = token_of(page)
        if token is None or token == "":
            continue
        if token in seen:
            raise PagingError(f"{what}: page {count} repeats an earlier page token; the list does not advance")
        seen.add(token)


def guarded_items(items: Iterable[P], what: str, max_items: int, key_of: Callable[[P], Hashable]) -> Iterator[P]:
    """Items of a list whose paging the SDK hides (openstacksdk): an item seen twice means the
    cursor went back, and more than `max_items` means the list does not end."""
    seen: set[Hashable] = set()
    for count, item in enumerate(items, start=1):
        if count > max_items:
            raise PagingError(f"{what}: more than {max_items} items; the list does not end "
                              f"(raise max_pages if it really is this long)")
        key = key_of(item)
        if key in seen:
            raise PagingError(f"{what}: item {key} came twice; the list does not advance")
        seen.add(key)
        yield item
