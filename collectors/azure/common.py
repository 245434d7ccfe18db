"""Small conversions shared by the Azure record builders."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import Enum
from typing import Any, TypeVar

from azure.core.paging import ItemPaged

from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.contract import guarded_pages

PROVIDER = "azure"
T = TypeVar("T")


def text(value: object) -> str | None:
    """An SDK string-or-enum value as plain text (str-mixin enums would otherwise print their name)."""
    if value is None:
        return None
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def lower(value: object) -> str | None:
    plain = text(value)
    return plain.lower() if plain is not None else None


def tags_of(tags: Mapping[str, str] | None) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in (tags or {}).items()}


def account_ref(subscription_id: str) -> str:
    return f"{PROVIDER}:{subscription_id}"


def region_ref(location: str | None) -> str | None:
    return f"{PROVIDER}:{location}" if location else None


def first(values: list[str] | None) -> str | None:
    return values[0] if values else None


def paged(items: ItemPaged[T], what: str, max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[T]:
    """The items of an ARM list, page by page: a list whose nextLink comes back, or that has more
    than `max_pages` pages, fails instead of running for ever."""
    pages: Any = items.by_page()
    for page in guarded_pages(pages, what, max_pages, lambda _page: pages.continuation_token):
        yield from page
