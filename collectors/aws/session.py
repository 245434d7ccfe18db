"""boto3 sessions and clients per account: the base session (named profile, static keys, or the
default chain), and for accounts with a role ARN a session whose credentials come from
`sts:AssumeRole` with the base session, fetched on first use and refreshed before they expire.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, DeferredRefreshableCredentials
from botocore.loaders import Loader, create_loader
from botocore.utils import parse_timestamp

from collectors.aws.mapping import READ_FROM
from collectors.aws.responses import ProjectingParserFactory
from collectors.aws.settings import AwsAccount, AwsSettings


def client_config(source: AwsSettings) -> Config:
    """Adaptive mode: retries throttling (RequestLimitExceeded, 503) with backoff and slows the
    client's own request rate while EC2 pushes back. The source's timeouts bound every request."""
    return Config(retries={"mode": "adaptive", "max_attempts": source.max_attempts}, max_pool_connections=16,
                  connect_timeout=source.connect_seconds, read_timeout=source.read_seconds)


def iso_timestamp(text: str) -> datetime:
    """EC2's timestamps (ISO 8601, UTC). botocore's default parser goes through dateutil, which took
    ~40 % of the collector's CPU time on large DescribeInstances pages; fromisoformat is exact for
    EC2's format, and anything else still goes to botocore's parser."""
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return parse_timestamp(text)
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)  # EC2 speaks UTC


_loader_lock = threading.Lock()
_loader: list[Loader] = []


def shared_loader() -> Loader:
    """One botocore data loader for all sessions: each session otherwise loads its own copy of the
    EC2 service model, ~30 MiB per account."""
    with _loader_lock:
        if not _loader:
            _loader.append(create_loader(os.environ.get("AWS_DATA_PATH")))
        return _loader[0]


def core_session() -> botocore.session.Session:
    """A botocore session with the shared model loader and the collector's response parser: EC2's list
    answers are built for the members the mapping reads (collectors/aws/responses.py)."""
    core = botocore.session.Session()
    core.register_component("data_loader", shared_loader())
    core.register_component("response_parser_factory", ProjectingParserFactory(READ_FROM, iso_timestamp))
    return core


def base_session(source: AwsSettings) -> boto3.Session:
    if source.profile:
        return boto3.Session(botocore_session=core_session(), profile_name=source.profile)
    if source.credentials is not None:
        creds = source.credentials
        token = creds.session_token.get_secret_value() if creds.session_token else None
        return boto3.Session(botocore_session=core_session(),
                             aws_access_key_id=creds.access_key_id.get_secret_value(),
                             aws_secret_access_key=creds.secret_access_key.get_secret_value(),
                             aws_session_token=token)
    return boto3.Session(botocore_session=core_session())


class _AssumedRoleProvider(CredentialProvider):
    METHOD = "graphinv-assume-role"
    CANONICAL_NAME = "graphinv-assume-role"

    def __init__(self, refresh: Callable[[], dict[str, str]]) -> None:
        super().__init__()
        self._refresh = refresh

    def load(self) -> DeferredRefreshableCredentials:
        return DeferredRefreshableCredentials(refresh_using=self._refresh, method=self.METHOD)


class BaseSts:
    """The base session's STS client, built once on first use and shared by the roles of every
    account: building clients from one boto3 session is not thread-safe, and each client costs
    about 25 ms of CPU to build (using one from several threads is safe)."""

    def __init__(self, base: boto3.Session, source: AwsSettings) -> None:
        self._base = base
        self._source = source
        self._lock = threading.Lock()
        self._client: Any = None

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._base.client("sts", region_name=self._source.region,
                                                 endpoint_url=self._source.endpoint_url,
                                                 config=client_config(self._source))
            return self._client


def assumed_session(sts: BaseSts, source: AwsSettings, account: AwsAccount) -> boto3.Session:
    """A session for `account.role_arn`, assumed through the base session's STS client. No call is
    made until a client first needs credentials, so an account whose role cannot be assumed fails
    the reads that need it, not the whole plan."""
    assert account.role_arn is not None

    def refresh() -> dict[str, str]:
        kwargs: dict[str, Any] = {"RoleArn": account.role_arn, "RoleSessionName": source.session_name,
                                  "DurationSeconds": int(source.session_duration.total_seconds())}
        if account.external_id:
            kwargs["ExternalId"] = account.external_id.get_secret_value()
        creds = sts.client().assume_role(**kwargs)["Credentials"]
        return {"access_key": creds["AccessKeyId"], "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"], "expiry_time": creds["Expiration"].isoformat()}

    core = core_session()
    core.get_component("credential_provider").insert_before("env", _AssumedRoleProvider(refresh))
    return boto3.Session(botocore_session=core)


class Ec2Clients:
    """One EC2 client per region of an account, built on first use (client creation is not
    thread-safe in boto3; using a client from several threads is). Accounts that share a session
    (the base session's keys reach several accounts) must share `lock`, the session's."""

    def __init__(self, session: boto3.Session, source: AwsSettings, lock: threading.Lock | None = None) -> None:
        self._session = session
        self._source = source
        self._config = client_config(source)
        self._lock = lock or threading.Lock()
        self._clients: dict[str, Any] = {}

    def get(self, region: str) -> Any:
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                client = self._session.client("ec2", region_name=region, endpoint_url=self._source.endpoint_url,
                                              config=self._config)
                self._clients[region] = client
            return client

    def sts(self) -> Any:
        with self._lock:
            return self._session.client("sts", region_name=self._source.region,
                                        endpoint_url=self._source.endpoint_url, config=self._config)
