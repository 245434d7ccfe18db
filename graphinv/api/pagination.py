"""Relay-style connections over one label, ordered by uid, with opaque cursors."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import strawberry

from graphinv.api.context import Info
from graphinv.api.errors import ApiError
from graphinv.api.selection import as_dict, requested_props

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
_PREFIX = "uid:"


def encode_cursor(uid: str) -> str:
    return base64.urlsafe_b64encode((_PREFIX + uid).encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    if not text.startswith(_PREFIX):
        raise ApiError("`after` is not a cursor this API gave out")
    return text[len(_PREFIX):]


@dataclass
class Where:
    """Conditions on `n`, each a fixed Cypher fragment; values only ever travel as parameters."""

    clauses: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def add(self, value: Any, clause: str, name: str) -> None:
        if value is not None:
            self.clauses.append(clause)
            self.params[name] = value

    def text(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "true"


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    _label: strawberry.Private[str]
    _where: strawberry.Private[Where]

    @strawberry.field(description="All nodes matching the filter (one more query, only when asked for).")
    async def total_count(self, info: Info) -> int:
        rows = await info.context.db.fetch(
            f"MATCH (n:{self._label}) WHERE {self._where.text()} RETURN count(n) AS c", self._where.params)
        return int(rows[0]["c"])


class Buildable(Protocol[T_co]):
    def from_props(self, props: dict[str, Any]) -> T_co: ...


async def paginate(info: Info, label: str, where: Where, first: int, after: str | None,
                   cls: Buildable[T]) -> Connection[T]:
    """One page of `label` nodes matching `where`, after the cursor, plus whether more follow."""
    size = info.context.page_size(first)
    props = requested_props(info.selected_fields, cls, path=("edges", "node"))
    page_where = Where(list(where.clauses), dict(where.params))
    page_where.add(decode_cursor(after) if after else None, "n.uid > $after", "after")
    rows = await info.context.db.fetch(
        f"MATCH (n:{label}) WHERE {page_where.text()} "
        "RETURN [p IN $props | n[p]] AS node ORDER BY n.uid LIMIT $limit",
        {**page_where.params, "props": list(props), "limit": size + 1})
    nodes = [as_dict(props, row["node"]) for row in rows[:size]]
    edges = [Edge(cursor=encode_cursor(node["uid"]), node=cls.from_props(node)) for node in nodes]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > size, has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None, end_cursor=edges[-1].cursor if edges else None),
        _label=label, _where=where,
    )
