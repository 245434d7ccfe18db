"""The `sources.gcp` section."""

from __future__ import annotations

from pydantic import Field, field_validator

from collectors.base_settings import SourceSettings


class GcpSettings(SourceSettings):
    # adc (Application Default Credentials) | anonymous (the simulator only) | a credentials file path
    credentials: str = Field(default="adc", min_length=1)
    projects: list[str] = Field(min_length=1)
    api_endpoint: str | None = None  # the simulator
    page_size: int | None = Field(default=None, ge=1, le=500)  # maxResults per page

    @field_validator("projects")
    @classmethod
    def _projects(cls, value: list[str]) -> list[str]:
        if not all(value):
            raise ValueError("must be a non-empty list of project ids")
        return list(dict.fromkeys(value))
