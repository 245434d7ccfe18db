"""Building the google-cloud-compute REST clients for `sources.gcp` (collectors/gcp/settings.py).

credentials:
- `anonymous`: no credentials at all (the simulator only);
- `adc` (default): Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud user
  credentials, or the metadata server / GKE workload identity);
- a file path: a service-account key, a workload-identity (external_account) credential
  configuration, or authorized-user credentials, each read by its type-specific google.auth loader.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import google.auth
from google.api_core import exceptions as core_exceptions
from google.api_core.client_options import ClientOptions
from google.auth import aws, identity_pool, pluggable
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.exceptions import DefaultCredentialsError, GoogleAuthError, RefreshError
from google.cloud import compute_v1
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

READ_ONLY_SCOPE = "https://www.googleapis.com/auth/compute.readonly"


T = TypeVar("T")


class GcpConfigError(ValueError):
    """The gcp config section cannot be used; the message never holds credential content."""


class GcpCredentialsRefused(RuntimeError):
    """The API (401) or a token endpoint refused the configured credentials. The message names them
    (a file by its path) and what was answered, never their content."""


def credentials_name(spec: str) -> str:
    if spec == "adc":
        return "Application Default Credentials"
    if spec == "anonymous":
        return "anonymous access"
    return f"credentials file {spec!r}"


# What the SDK raises when the API (401) or the token endpoint refuses the credentials.
REFUSALS = (core_exceptions.Unauthorized, RefreshError)


def refused(spec: str, exc: Exception) -> GcpCredentialsRefused:
    """The error for a refusal (one of REFUSALS) of the credentials `spec`: it says which were refused
    (the SDK's error names only the URL, which is the same for every key) and the answer's first line."""
    # RefreshError's first argument is its message; the second, the token endpoint's answer.
    said = str(exc.args[0] if isinstance(exc, RefreshError) and exc.args else exc)
    first = next((line.strip() for line in said.splitlines() if line.strip()), type(exc).__name__)
    return GcpCredentialsRefused(f"gcp: {credentials_name(spec)} refused: {first[:300]}")


def naming_refused_credentials(spec: str, records: Iterator[T]) -> Iterator[T]:
    """`records`; a refusal of the credentials fails with refused()'s error."""
    try:
        yield from records
    except REFUSALS as exc:
        raise refused(spec, exc) from None


@dataclass
class GcpClients:
    instances: compute_v1.InstancesClient
    disks: compute_v1.DisksClient
    addresses: compute_v1.AddressesClient
    global_addresses: compute_v1.GlobalAddressesClient


def _read_credentials_file(path: str) -> dict[str, Any] | None:
    """The file's JSON object, or None; never an exception that could quote the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            info = json.load(handle)
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _from_info(info: dict[str, Any]) -> Credentials | None:
    """Credentials of the file's declared type (the type-specific loaders google.auth recommends)."""
    kind = info.get("type")
    if kind == "service_account":
        return service_account.Credentials.from_service_account_info(info, scopes=[READ_ONLY_SCOPE])
    if kind == "external_account":  # workload identity federation, e.g. Gardener's workload identity
        source = info.get("credential_source") or {}
        if str(source.get("environment_id", "")).startswith("aws"):
            return aws.Credentials.from_info(info, scopes=[READ_ONLY_SCOPE])
        if "executable" in source:
            return pluggable.Credentials.from_info(info, scopes=[READ_ONLY_SCOPE])
        return identity_pool.Credentials.from_info(info, scopes=[READ_ONLY_SCOPE])
    if kind == "authorized_user":
        return user_credentials.Credentials.from_authorized_user_info(info, scopes=[READ_ONLY_SCOPE])
    return None


def load_credentials(spec: str) -> Credentials:
    if spec == "anonymous":
        return AnonymousCredentials()
    if spec == "adc":
        credentials: Credentials | None = None
        # Raised below, outside the handler, so no google.auth text rides along as __context__.
        with contextlib.suppress(DefaultCredentialsError):
            credentials, _project = google.auth.default(scopes=[READ_ONLY_SCOPE])
        if credentials is None:
            raise GcpConfigError("gcp: no Application Default Credentials found")
        return credentials
    info = _read_credentials_file(spec)
    loaded: Credentials | None = None
    if info is not None:
        try:
            loaded = _from_info(info)
        except (GoogleAuthError, ValueError, KeyError, TypeError):
            loaded = None  # a malformed key: its parse errors might quote it, so they are dropped
    if loaded is None:
        raise GcpConfigError(f"gcp: cannot load credentials from file {spec!r} (service_account, "
                             "external_account or authorized_user JSON expected)")
    return loaded


def build_clients(credentials: Credentials, api_endpoint: str | None = None) -> GcpClients:
    """Fresh clients (each with its own HTTP session, so scopes on other threads share none)."""
    options = ClientOptions(api_endpoint=api_endpoint) if api_endpoint else None
    common: dict[str, Any] = {"transport": "rest", "credentials": credentials, "client_options": options}
    return GcpClients(
        instances=compute_v1.InstancesClient(**common),
        disks=compute_v1.DisksClient(**common),
        addresses=compute_v1.AddressesClient(**common),
        global_addresses=compute_v1.GlobalAddressesClient(**common),
    )
