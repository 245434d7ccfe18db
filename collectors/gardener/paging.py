"""Lists with `limit`/`continue`: one page in memory at a time, and an end to every list."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.contract import guarded_pages

# fetch_page(continue_token) -> the list body of that page
PageFetcher = Callable[[str | None], dict[str, Any]]


def _continue_token(body: dict[str, Any]) -> str | None:
    return (body.get("metadata") or {}).get("continue") or None


def paged_items(fetch_page: PageFetcher, what: str = "list",
                max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[dict[str, Any]]:
    def pages() -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            body = fetch_page(token)
            yield body
            token = _continue_token(body)
            if token is None:
                return

    for body in guarded_pages(pages(), what, max_pages, _continue_token):
        yield from body.get("items") or []
