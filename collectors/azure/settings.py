"""The `sources.azure` section.

`credential.type`:
- `default` (the default): DefaultAzureCredential - environment, workload identity, managed
  identity, Azure CLI, ... whatever the process has;
- `workload_identity`: WorkloadIdentityCredential from a federated token file (e.g. a projected
  service account token in a Gardener or Kubernetes pod); tenant_id/client_id/token_file fall back
  to AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_FEDERATED_TOKEN_FILE;
- `client_secret`: a service principal's secret, given inline or (better) as `client_secret_file`.

`authority` (an https Entra endpoint; the simulator's own URL) and `disable_instance_discovery`
reach a non-public authority; `connection_verify` (a CA bundle path) applies to the credential and
the ARM clients alike.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from collectors.base_settings import SourceSection, SourceSettings
from graphinv.settings.types import Secret


class AzureCredentialSettings(SourceSection):
    type: Literal["default", "workload_identity", "client_secret"] = "default"
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: Secret | None = None
    client_secret_file: str | None = None
    token_file: str | None = None
    authority: str | None = None
    disable_instance_discovery: bool = False

    @model_validator(mode="after")
    def _complete(self) -> AzureCredentialSettings:
        if self.type == "client_secret":
            missing = [name for name in ("tenant_id", "client_id") if not getattr(self, name)]
            if not (self.client_secret or self.client_secret_file):
                missing.append("client_secret or client_secret_file")
            if missing:
                raise ValueError(f"credential type client_secret needs {', '.join(missing)}")
        return self


class AzureSettings(SourceSettings):
    subscriptions: list[str] = Field(min_length=1)
    credential: AzureCredentialSettings = Field(default_factory=AzureCredentialSettings)
    base_url: str | None = None  # the ARM endpoint (sovereign clouds, the simulator)
    credential_scopes: list[str] | None = None  # token scope for a non-public ARM endpoint
    connection_verify: str | None = None  # CA bundle for https (the simulator's certificate)
    # Only resources in these locations; their Region nodes are written with each scope.
    regions: list[str] | None = None
    # Retries per request (azure-core RetryPolicy: throttling, 5xx, connection errors, timeouts).
    retry_total: int = Field(default=10, ge=0)

    @field_validator("subscriptions", mode="before")
    @classmethod
    def _subscriptions(cls, value: object) -> object:
        if isinstance(value, list):
            if not value:
                raise ValueError("lists no subscription")
            return [str(s) for s in value]
        return value

    @field_validator("regions")
    @classmethod
    def _lower(cls, value: list[str] | None) -> list[str] | None:
        return [r.lower() for r in value] if value else None
