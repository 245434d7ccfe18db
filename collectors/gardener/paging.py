"""Lists with `limit`/`continue`: one page in memory at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

# fetch_page(continue_token) -> the list body of that page
PageFetcher = Callable[[str | None], dict[str, Any]]


def paged_items(fetch_page: PageFetcher) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        body = fetch_page(token)
        yield from body.get("items") or []
        token = (body.get("metadata") or {}).get("continue") or None
        if token is None:
            return
