"""What every `sources.<name>` section has in common: how long a request may take and how many
pages one list may have. Each collector's own settings model extends `SourceSettings`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator, model_validator

from graphinv.settings.types import Duration, Section

DEFAULT_CONNECT_TIMEOUT = timedelta(seconds=10)
DEFAULT_READ_TIMEOUT = timedelta(seconds=60)
# Pages one list of one scope may have. Generous (10k pages are millions of objects at the APIs'
# page sizes); it exists so a server that keeps handing out page tokens cannot hold a scope forever.
DEFAULT_MAX_PAGES = 10_000


class SourceSection(Section):
    """A part of a `sources.<name>` section. A key given as null means its default, as the
    hand-written parsers these models replace read it (`regions: ~`, `seeds: ~`)."""

    @model_validator(mode="before")
    @classmethod
    def _null_is_default(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class SourceSettings(SourceSection):
    # Waiting for a TCP (and TLS) connection, and for each answer on it; a read that waits longer
    # fails its scope, which then sweeps nothing.
    connect_timeout: Duration = DEFAULT_CONNECT_TIMEOUT
    read_timeout: Duration = DEFAULT_READ_TIMEOUT
    max_pages: int = Field(default=DEFAULT_MAX_PAGES, ge=1)
    concurrency: int = Field(default=8, ge=1)  # scopes of this source read at once (for the runner)

    @field_validator("connect_timeout", "read_timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("must be a positive duration, like 10s or 1m")
        return value

    @property
    def connect_seconds(self) -> float:
        return self.connect_timeout.total_seconds()

    @property
    def read_seconds(self) -> float:
        return self.read_timeout.total_seconds()
