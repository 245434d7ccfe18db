"""The credential and management clients `sources.azure` asks for (collectors/azure/settings.py).
Secrets are never part of an error message; the source's timeouts and retry budget go to every
client and credential as azure-core transport settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from azure.core.credentials import TokenCredential
from azure.identity import ClientSecretCredential, DefaultAzureCredential, WorkloadIdentityCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient

from collectors.azure.settings import AzureSettings


def _transport_options(settings: AzureSettings) -> dict[str, Any]:
    options: dict[str, Any] = {"connection_timeout": settings.connect_seconds, "read_timeout": settings.read_seconds,
                               "retry_total": settings.retry_total}
    if settings.connection_verify is not None:
        options["connection_verify"] = settings.connection_verify
    return options


def build_credential(settings: AzureSettings) -> TokenCredential:
    spec = settings.credential
    options = _transport_options(settings)
    if spec.authority:
        options["authority"] = spec.authority
    if spec.disable_instance_discovery:
        options["disable_instance_discovery"] = True
    if spec.type == "default":
        return DefaultAzureCredential(**options)
    if spec.type == "workload_identity":
        for name, setting in (("tenant_id", "tenant_id"), ("client_id", "client_id"),
                              ("token_file", "token_file_path")):
            if getattr(spec, name):
                options[setting] = getattr(spec, name)
        return WorkloadIdentityCredential(**options)
    assert spec.tenant_id and spec.client_id  # checked by AzureCredentialSettings
    if spec.client_secret is not None:
        secret = spec.client_secret.get_secret_value()
    else:
        secret = Path(str(spec.client_secret_file)).read_text().strip()
    return ClientSecretCredential(spec.tenant_id, spec.client_id, secret, **options)


def _client_options(settings: AzureSettings) -> dict[str, Any]:
    options = _transport_options(settings)
    if settings.base_url:
        options["base_url"] = settings.base_url
    if settings.credential_scopes:
        options["credential_scopes"] = list(settings.credential_scopes)
    return options


def compute_client(credential: TokenCredential, subscription_id: str,
                   settings: AzureSettings) -> ComputeManagementClient:
    return ComputeManagementClient(credential, subscription_id, **_client_options(settings))


def network_client(credential: TokenCredential, subscription_id: str,
                   settings: AzureSettings) -> NetworkManagementClient:
    return NetworkManagementClient(credential, subscription_id, **_client_options(settings))
