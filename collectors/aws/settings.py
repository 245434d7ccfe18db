"""The `sources.aws` section. Errors name the key, never its value (hide_input_in_errors), so a
secret pasted into the wrong field does not end up in a log."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator, model_validator

from collectors.base_settings import SourceSection, SourceSettings
from graphinv.settings.types import Duration, Secret

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/.+$")


class AwsStaticCredentials(SourceSection):
    access_key_id: Secret
    secret_access_key: Secret
    session_token: Secret | None = None


class AwsAccount(SourceSection):
    id: str | None = None  # None: the account the base credentials belong to (asked of STS)
    role_arn: str | None = None
    external_id: Secret | None = None
    regions: list[str] = []  # empty: every region enabled for the account

    @field_validator("id", mode="before")
    @classmethod
    def _account_id(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value).zfill(12)  # YAML reads an unquoted id as a number
        if value is not None and (not isinstance(value, str) or not _ACCOUNT_ID.match(value)):
            raise ValueError("must be a 12-digit AWS account id")
        return value

    @field_validator("role_arn")
    @classmethod
    def _role_arn(cls, value: str | None) -> str | None:
        if value is not None and not _ROLE_ARN.match(value):
            raise ValueError("must be an IAM role ARN")
        return value

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        if not all(value):
            raise ValueError("must be a list of region names")
        return value

    @model_validator(mode="after")
    def _id_from_role(self) -> AwsAccount:
        if self.role_arn is not None:
            match = _ROLE_ARN.match(self.role_arn)
            assert match is not None
            if self.id is None:
                self.id = match.group(1)
            elif match.group(1) != self.id:
                raise ValueError("role_arn belongs to another account than id")
        return self


class AwsSettings(SourceSettings):
    region: str = Field(default="us-east-1", min_length=1)  # home region: STS and DescribeRegions
    endpoint_url: str | None = Field(default=None, min_length=1)
    profile: str | None = Field(default=None, min_length=1)
    credentials: AwsStaticCredentials | None = None
    accounts: list[AwsAccount] = Field(default_factory=lambda: [AwsAccount()], min_length=1)
    session_name: str = Field(default="graphinv", min_length=1)
    # DurationSeconds of each AssumeRole session (AWS accepts 15 min up to the role's maximum, 1 h by
    # default). botocore refreshes the session 15 minutes before it expires, so a scheduler running
    # for days never sends an expired session token; sessions shorter than that refresh per request.
    session_duration: Duration = timedelta(hours=1)
    # Attempts per request (botocore's adaptive retry mode), throttling and timeouts included.
    max_attempts: int = Field(default=10, ge=1)

    @field_validator("session_duration")
    @classmethod
    def _session_length(cls, value: timedelta) -> timedelta:
        if not 900 <= value.total_seconds() <= 43200:
            raise ValueError("must be between 15m and 12h, as AWS takes it")
        return value

    @model_validator(mode="after")
    def _one_way_to_log_in(self) -> AwsSettings:
        if self.profile and self.credentials:
            raise ValueError("give either profile or credentials, not both")
        return self
