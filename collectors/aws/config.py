"""The `sources.aws` config section, checked and typed.

Errors name the offending key but never echo values, so a secret pasted into the wrong field does
not end up in a log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/.+$")


class AwsConfigError(ValueError):
    """The sources.aws section is wrong; the message says where."""


@dataclass(frozen=True)
class StaticCredentials:
    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class AwsAccount:
    id: str | None = None  # None: the account the base credentials belong to (asked of STS)
    role_arn: str | None = None
    external_id: str | None = field(default=None, repr=False)
    regions: tuple[str, ...] = ()  # empty: every region enabled for the account


@dataclass(frozen=True)
class AwsSource:
    region: str = "us-east-1"  # home region: STS and DescribeRegions are asked here
    endpoint_url: str | None = None
    profile: str | None = None
    credentials: StaticCredentials | None = None
    accounts: tuple[AwsAccount, ...] = (AwsAccount(),)
    concurrency: int = 8  # for the runner; plan() itself does not use it
    session_name: str = "graphinv"


def _check_keys(raw: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = set(raw) - known
    if unknown:
        raise AwsConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")


def _str(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise AwsConfigError(f"{where}.{key} must be a non-empty string")
    return value


def _account(raw: Any, where: str) -> AwsAccount:
    if not isinstance(raw, Mapping):
        raise AwsConfigError(f"{where} must be a mapping")
    _check_keys(raw, {"id", "role_arn", "external_id", "regions"}, where)
    account_id = raw.get("id")
    if account_id is not None:
        account_id = str(account_id).zfill(12) if isinstance(account_id, int) else account_id
        if not isinstance(account_id, str) or not _ACCOUNT_ID.match(account_id):
            raise AwsConfigError(f"{where}.id must be a 12-digit AWS account id")
    role_arn = _str(raw, "role_arn", where)
    if role_arn is not None:
        match = _ROLE_ARN.match(role_arn)
        if not match:
            raise AwsConfigError(f"{where}.role_arn must be an IAM role ARN")
        if account_id is None:
            account_id = match.group(1)
        elif match.group(1) != account_id:
            raise AwsConfigError(f"{where}: role_arn belongs to another account than id")
    regions = raw.get("regions") or []
    if not isinstance(regions, list) or not all(isinstance(r, str) and r for r in regions):
        raise AwsConfigError(f"{where}.regions must be a list of region names")
    return AwsAccount(id=account_id, role_arn=role_arn, external_id=_str(raw, "external_id", where),
                      regions=tuple(regions))


def parse_source(section: Mapping[str, Any]) -> AwsSource:
    where = "sources.aws"
    _check_keys(section, {"endpoint_url", "region", "profile", "credentials", "accounts", "concurrency",
                          "session_name"}, where)
    credentials = None
    raw_creds = section.get("credentials")
    if raw_creds is not None:
        if not isinstance(raw_creds, Mapping):
            raise AwsConfigError(f"{where}.credentials must be a mapping")
        _check_keys(raw_creds, {"access_key_id", "secret_access_key", "session_token"}, f"{where}.credentials")
        key = _str(raw_creds, "access_key_id", f"{where}.credentials")
        secret = _str(raw_creds, "secret_access_key", f"{where}.credentials")
        if key is None or secret is None:
            raise AwsConfigError(f"{where}.credentials needs access_key_id and secret_access_key")
        credentials = StaticCredentials(key, secret, _str(raw_creds, "session_token", f"{where}.credentials"))
    profile = _str(section, "profile", where)
    if profile and credentials:
        raise AwsConfigError(f"{where}: give either profile or credentials, not both")
    raw_accounts = section.get("accounts")
    if raw_accounts is None:
        accounts: tuple[AwsAccount, ...] = (AwsAccount(),)
    elif isinstance(raw_accounts, list) and raw_accounts:
        accounts = tuple(_account(a, f"{where}.accounts[{i}]") for i, a in enumerate(raw_accounts))
    else:
        raise AwsConfigError(f"{where}.accounts must be a non-empty list")
    concurrency = section.get("concurrency", 8)
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        raise AwsConfigError(f"{where}.concurrency must be a positive integer")
    return AwsSource(
        region=_str(section, "region", where) or "us-east-1", endpoint_url=_str(section, "endpoint_url", where),
        profile=profile, credentials=credentials, accounts=accounts, concurrency=concurrency,
        session_name=_str(section, "session_name", where) or "graphinv",
    )
