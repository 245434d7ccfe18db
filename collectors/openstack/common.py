"""Small helpers every OpenStack record mapper shares."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from collectors.base_settings import DEFAULT_MAX_PAGES
from collectors.contract import guarded_items

PROVIDER = "openstack"
# The most items one page of Nova and Cinder holds by default (osapi_max_limit); openstacksdk
# hides its pages, so the page cap is applied to items: max_pages x this.
ITEMS_PER_PAGE = 1000


def account_ref(project: str) -> str:
    return f"{PROVIDER}:{project}"


def region_ref(region: str) -> str:
    return f"{PROVIDER}:{region}"


def parse_timestamp(value: Any) -> datetime | None:
    """OpenStack timestamps: Nova/Neutron end in `Z`, Cinder's carry no zone at all (they are UTC)."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def string_map(raw: Any) -> dict[str, str]:
    """Metadata as str -> str (Cinder sample metadata holds booleans, e.g. `readonly: false`)."""
    if not isinstance(raw, dict):
        return {}
    return {str(k): v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in raw.items()}


def listed(items: Iterable[Any], what: str, max_pages: int = DEFAULT_MAX_PAGES) -> Iterator[Any]:
    """The resources of one openstacksdk list: one that comes twice (a `next` link or marker that
    goes back) or too many of them fail the read instead of running for ever."""
    return guarded_items(items, what, max_pages * ITEMS_PER_PAGE, lambda resource: resource.id)
