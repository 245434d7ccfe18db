"""Compute Engine timestamps are RFC 3339 strings with an offset (`2025-02-05T01:23:36.842-08:00`)."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None  # an unreadable timestamp must not fail the whole scope
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
