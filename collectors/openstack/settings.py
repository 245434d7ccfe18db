"""The `sources.openstack` section: one entry per cloud (project), plus retry and timeout tuning."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, ConfigDict, Field, model_validator

from collectors.base_settings import DEFAULT_READ_TIMEOUT, SourceSection, SourceSettings
from graphinv.settings.types import Duration, Secret

APP_CREDENTIAL_KEYS = ("application_credential_id", "application_credential_name", "application_credential_secret")
# Per-entry connection settings passed through to openstacksdk as they are.
PASSTHROUGH_KEYS = ("verify", "cacert", "cert", "key", "interface", "identity_api_version")


class OpenStackAuth(SourceSection):
    """keystoneauth's auth mapping. Its secrets are typed as such; the plugin's other keys (auth_url,
    username, project_name, domains, ...) pass through as they are."""

    model_config = ConfigDict(extra="allow")
    password: Secret | None = None
    application_credential_secret: Secret | None = None
    token: Secret | None = None

    def for_sdk(self) -> dict[str, Any]:
        plain = {k: v for k, v in (self.model_extra or {}).items()}
        for name in ("password", "application_credential_secret", "token"):
            secret = getattr(self, name)
            if secret is not None:
                plain[name] = secret.get_secret_value()
        return plain

    def has(self, key: str) -> bool:
        return getattr(self, key, None) is not None or key in (self.model_extra or {})

    def get(self, key: str) -> Any:
        return (self.model_extra or {}).get(key)


class OpenStackCloud(SourceSection):
    name: str = Field(min_length=1)
    project: str | None = None  # the CloudAccount id; default: the auth's project, else `name`
    auth: OpenStackAuth | None = None  # None: the clouds.yaml entry called `name`
    auth_type: str | None = None
    clouds_file: str | None = None
    regions: list[str] = []  # empty: every region of the token's service catalog
    verify: bool | str | None = None
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    interface: str | None = None
    identity_api_version: str | int | None = None

    @model_validator(mode="after")
    def _defaults(self) -> OpenStackCloud:
        if self.auth is not None:
            if self.auth_type is None:
                app = any(self.auth.has(k) for k in APP_CREDENTIAL_KEYS)
                self.auth_type = "v3applicationcredential" if app else "password"
            if not self.project:
                self.project = self.auth.get("project_name") or self.auth.get("project_id") or None
        return self

    def passthrough(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in PASSTHROUGH_KEYS if getattr(self, k) is not None}


class OpenStackSettings(SourceSettings):
    clouds: list[OpenStackCloud] = []
    # openstacksdk/keystoneauth retry nothing by default; these retry 429 and 503 (Retry-After is
    # honoured) and failed connections, timeouts included.
    status_code_retries: int = Field(default=6, ge=0)
    status_code_retry_delay: float = Field(default=1.0, ge=0)
    connect_retries: int = Field(default=3, ge=0)
    # keystoneauth takes one timeout per request, for the connection and each read alike;
    # `api_timeout` is its older name here.
    read_timeout: Duration = Field(default=DEFAULT_READ_TIMEOUT,
                                   validation_alias=AliasChoices("read_timeout", "api_timeout"))
