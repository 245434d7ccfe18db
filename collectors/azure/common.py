"""Small conversions shared by the Azure record builders."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from azure.core.exceptions import DecodeError, HttpResponseError

PROVIDER = "azure"


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


def first(values: Any) -> str | None:
    return str(values[0]) if isinstance(values, list) and values else None


def arm_time(value: Any) -> datetime | None:
    """An ARM timestamp (`2024-01-02T03:04:05.1234567Z`; digits past microseconds are dropped)."""
    if isinstance(value, datetime):
        return value
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


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
