"""The items of google-cloud-compute pagers, page by page, through the shared paging guard: the
pagers follow `nextPageToken` for as long as the server hands one out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from collectors.contract import guarded_pages


def aggregated_items(pager: Any, what: str, max_pages: int) -> Iterator[tuple[str, Any]]:
    """(scope, scoped list) pairs of an aggregatedList pager."""
    for page in guarded_pages(pager.pages, what, max_pages, lambda p: p.next_page_token):
        yield from page.items.items()


def list_items(pager: Any, what: str, max_pages: int) -> Iterator[Any]:
    for page in guarded_pages(pager.pages, what, max_pages, lambda p: p.next_page_token):
        yield from page.items
