"""The credential and management clients an Azure config section asks for.

`credential.type`:
- `default` (the default): DefaultAzureCredential - environment, workload identity, managed
  identity, Azure CLI, ... whatever the process has;
- `workload_identity`: WorkloadIdentityCredential from a federated token file (e.g. a projected
  service account token in a Gardener or Kubernetes pod); tenant_id/client_id/token_file fall back
  to AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_FEDERATED_TOKEN_FILE;
- `client_secret`: a service principal's secret, given inline or (better) as `client_secret_file`.

`authority` (an https Entra endpoint; the simulator's own URL) and `disable_instance_discovery`
reach a non-public authority; `connection_verify` (a CA bundle path) applies to the credential and
the ARM clients alike. Secrets are never part of an error message.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from azure.core.credentials import TokenCredential
from azure.identity import ClientSecretCredential, DefaultAzureCredential, WorkloadIdentityCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient


class AzureConfigError(ValueError):
    """The azure config section is incomplete or contradictory (never quotes a secret)."""


def _transport_options(section: Mapping[str, Any]) -> dict[str, Any]:
    verify = section.get("connection_verify")
    return {"connection_verify": str(verify)} if verify is not None else {}


def build_credential(section: Mapping[str, Any]) -> TokenCredential:
    spec: Mapping[str, Any] = section.get("credential") or {}
    kind = str(spec.get("type", "default"))
    options: dict[str, Any] = _transport_options(section)
    if spec.get("authority"):
        options["authority"] = str(spec["authority"])
    if spec.get("disable_instance_discovery"):
        options["disable_instance_discovery"] = True
    if kind == "default":
        return DefaultAzureCredential(**options)
    if kind == "workload_identity":
        for name, setting in (("tenant_id", "tenant_id"), ("client_id", "client_id"),
                              ("token_file", "token_file_path")):
            if spec.get(name):
                options[setting] = str(spec[name])
        return WorkloadIdentityCredential(**options)
    if kind == "client_secret":
        missing = [name for name in ("tenant_id", "client_id") if not spec.get(name)]
        if not (spec.get("client_secret") or spec.get("client_secret_file")):
            missing.append("client_secret or client_secret_file")
        if missing:
            raise AzureConfigError(f"azure credential type client_secret needs {', '.join(missing)}")
        secret = spec.get("client_secret") or Path(str(spec["client_secret_file"])).read_text().strip()
        return ClientSecretCredential(str(spec["tenant_id"]), str(spec["client_id"]), str(secret), **options)
    raise AzureConfigError(
        f"unknown azure credential type {kind!r} (expected default, workload_identity or client_secret)")


def _client_options(section: Mapping[str, Any]) -> dict[str, Any]:
    options = _transport_options(section)
    if section.get("base_url"):
        options["base_url"] = str(section["base_url"])
    if section.get("credential_scopes"):
        options["credential_scopes"] = [str(s) for s in section["credential_scopes"]]
    return options


def compute_client(credential: TokenCredential, subscription_id: str,
                   section: Mapping[str, Any]) -> ComputeManagementClient:
    return ComputeManagementClient(credential, subscription_id, **_client_options(section))


def network_client(credential: TokenCredential, subscription_id: str,
                   section: Mapping[str, Any]) -> NetworkManagementClient:
    return NetworkManagementClient(credential, subscription_id, **_client_options(section))
