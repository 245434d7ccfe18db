"""What the GraphQL API says about change history (graphinv/history/): the root `changes` field,
a `history` field on every node type, and the `changes` subscription over graphql-transport-ws.

The subscription reads the graph like everything else in the API: it polls for changes published
after its own cursor, so each committed change reaches each connected client once, in order, even
though collections run in other processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from graph_schema.history import CHANGE_KINDS
from graphinv.api.context import Info, RequestContext
from graphinv.api.errors import ApiError
from graphinv.api.request_graph import ReadOnly
from graphinv.db import Graph
from graphinv.history.store import (
    HISTORIES_QUERY,
    ChangeFilter,
    CursorError,
    Position,
    group_histories,
    list_changes,
)
from graphinv.settings.types import parse_duration

HISTORY_FIRST = 20

@strawberry.enum(description="What happened: a node appeared or went, a remembered property changed, an edge was "
                             "linked or unlinked.")
class ChangeKind(Enum):
    APPEARED = "appeared"
    CHANGED = "changed"
    GONE = "gone"
    LINKED = "linked"
    UNLINKED = "unlinked"


assert {k.value for k in ChangeKind} == set(CHANGE_KINDS), "ChangeKind must list graph_schema's CHANGE_KINDS"


@strawberry.type(description="One recorded change. For linked/unlinked, `node*` is the edge's start and `other*` "
                             "its end. Values are shown as text.")
class Change:
    id: str
    kind: str
    at: datetime
    observed: datetime | None
    node_uid: str
    node_label: str
    name: str | None
    provider: str | None
    project: str | None
    property: str | None
    before: str | None
    after: str | None
    rel: str | None
    other_uid: str | None
    other_label: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Change:
        return cls(id=row["uid"], kind=row["kind"], at=row["at"], observed=row.get("observed"),
                   node_uid=row["node_uid"], node_label=row["node_label"], name=row.get("name"),
                   provider=row.get("provider"), project=row.get("project"), property=row.get("property"),
                   before=row.get("before"), after=row.get("after"), rel=row.get("rel"),
                   other_uid=row.get("other_uid"), other_label=row.get("other_label"))


@strawberry.type
class ChangePage:
    changes: list[Change]
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")
    has_next_page: bool


@strawberry.input(description="Which changes: all given conditions hold.")
class ChangeFilterInput:
    provider: str | None = None
    kind: ChangeKind | None = None
    label: str | None = strawberry.field(default=None, description="Label of either node concerned (Instance, ...).")
    project: str | None = None


def _filter(f: ChangeFilterInput | None, since: datetime | None = None) -> ChangeFilter:
    f = f or ChangeFilterInput()
    kind = f.kind.value if f.kind is not None else None
    return ChangeFilter(since=since, provider=f.provider, kind=kind, label=f.label, project=f.project)


async def resolve_changes(info: Info, since: str = "24h", filter: ChangeFilterInput | None = None,
                          first: int = 100, after: str | None = None) -> ChangePage:
    size = info.context.page_size(first)
    try:
        window = parse_duration(since)
        position = Position.decode(after) if after else None
    except (ValueError, CursorError) as exc:
        raise ApiError(str(exc)) from None
    f = _filter(filter, datetime.now(UTC) - window)
    rows = await asyncio.to_thread(list_changes, info.context.db, f, limit=size + 1, after=position)
    page = rows[:size]
    end = Position(page[-1]["at"], page[-1]["uid"]).encode() if page else None
    return ChangePage(changes=[Change.from_row(r) for r in page], end_cursor=end, has_next_page=len(rows) > size)


changes_field: Any = strawberry.field(
    resolver=resolve_changes,
    description="Changes published in the last `since` (e.g. 24h, 7d), oldest first, paged by `first`/`after`.")


# -- `history` on every node type -----------------------------------------------------------------
def _history_loader(ctx: RequestContext, first: int) -> DataLoader[str, list[dict[str, Any]]]:
    loaders: dict[int, DataLoader[str, list[dict[str, Any]]]] = ctx.__dict__.setdefault("_history_loaders", {})
    loader = loaders.get(first)
    if loader is None:
        async def load(uids: list[str]) -> list[list[dict[str, Any]]]:
            records = await ctx.db.fetch(HISTORIES_QUERY, {"uids": uids, "limit": first})
            grouped = group_histories(records, uids)
            return [grouped[uid] for uid in uids]

        loader = DataLoader(load_fn=load)
        loaders[first] = loader
    return loader


async def resolve_history(root: Any, info: Info, first: int = HISTORY_FIRST) -> list[Change]:
    size = info.context.page_size(first)
    rows = await _history_loader(info.context, size).load(root.uid)
    return [Change.from_row(r) for r in rows]


def history_field() -> Any:
    """A fresh `history` field for one node type (one loader round trip per query level)."""
    return strawberry.field(resolver=resolve_history,
                            description="This node's latest recorded changes (also as either end of an edge), "
                                        "oldest first.")


# -- the subscription -----------------------------------------------------------------------------
class Feed:
    """How many changes one poll of the subscription reads at most. How often it polls and how long
    a change settles come from the `history:` section (RequestContext.history)."""

    batch: int = 500


class _SubscriptionReader(Graph):
    """The request's driver without the per-request deadline (a subscription lives for hours);
    read-only like the rest of the API."""

    def __init__(self, db: Graph) -> None:  # no super().__init__: the driver is shared, not opened here
        self.conn, self.database, self.driver = db.conn, db.database, db.driver

    def close(self) -> None:
        """The driver belongs to the API's shared Graph."""

    def run_write(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        raise ReadOnly("the API is read-only")


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Every change published from now on that matches the filter, once, "
                                         "in order.")
    async def changes(self, info: Info, filter: ChangeFilterInput | None = None) -> AsyncGenerator[Change, None]:
        graph = _SubscriptionReader(info.context.db)
        f = _filter(filter)
        settle, poll = info.context.history.settle, info.context.history.poll_interval
        position = Position(datetime.now(UTC) - settle, "")
        while True:
            rows = await asyncio.to_thread(list_changes, graph, f, limit=Feed.batch, after=position,
                                           settle=settle)
            for row in rows:
                position = Position(row["at"], row["uid"])
                yield Change.from_row(row)
            if len(rows) < Feed.batch:
                await asyncio.sleep(poll.total_seconds())
