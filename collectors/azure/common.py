"""Small conversions shared by the Azure record builders."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import Enum
from typing import Any, TypeVar

from azure.core.exceptions import DecodeError, HttpResponseError
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
    try:
        for page in guarded_pages(pages, what, max_pages, lambda _page: pages.continuation_token):
            yield from page
    except HttpResponseError as exc:  # its text spans lines (code, message, inner errors)
        raise AzureReadError(f"{what}: {answer_error(exc)}") from None


class AzureReadError(RuntimeError):
    """An ARM list failed; the message is one line naming the list and what ARM answered."""


def answer_error(exc: HttpResponseError) -> str:
    """One line for what ARM answered: the status, ARM's error code and message (or, for an answer
    that is not JSON, the decoder's complaint)."""
    status = f"HTTP {exc.status_code}" if exc.status_code else "no HTTP status"
    if isinstance(exc, DecodeError):
        return f"{status}, but the answer is not valid JSON ({_first_line(exc.message)})"
    error = exc.error
    if error is not None and (error.code or error.message):
        return f"{status} {error.code or ''}: {_first_line(str(error.message or ''))}".replace(" :", ":")
    return f"{status}: {_first_line(exc.message or exc.reason or type(exc).__name__)}"


def _first_line(text: str) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line[:300]
