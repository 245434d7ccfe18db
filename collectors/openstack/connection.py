"""From one `sources.openstack.clouds[]` entry to openstacksdk connections.

Explicit auth dicts never read the host's clouds.yaml or OS_* variables, so a config file says
everything that is used. The entry's credentials are kept out of every repr and error message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import openstack.connection
from openstack.config import OpenStackConfig

# openstacksdk/keystoneauth retry nothing by default (status_code_retries = 0). We ask them to
# retry 429 and 503 themselves; keystoneauth then waits what Retry-After says, or backs off.
RETRIABLE_STATUS_CODES = [429, 503]
APP_CREDENTIAL_KEYS = ("application_credential_id", "application_credential_name", "application_credential_secret")
# Per-entry connection settings passed through to openstacksdk as they are.
PASSTHROUGH_KEYS = ("verify", "cacert", "cert", "key", "interface", "identity_api_version")


class OpenStackConfigError(ValueError):
    """The `sources.openstack` section is malformed; the message names the entry, never a secret."""


@dataclass(frozen=True)
class ClientOptions:
    status_code_retries: int = 6
    status_code_retry_delay: float = 1.0
    connect_retries: int = 3
    api_timeout: float = 60.0

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> ClientOptions:
        try:
            return cls(
                status_code_retries=int(section.get("status_code_retries", cls.status_code_retries)),
                status_code_retry_delay=float(section.get("status_code_retry_delay", cls.status_code_retry_delay)),
                connect_retries=int(section.get("connect_retries", cls.connect_retries)),
                api_timeout=float(section.get("api_timeout", cls.api_timeout)),
            )
        except (TypeError, ValueError) as exc:
            raise OpenStackConfigError(f"sources.openstack: bad retry/timeout setting: {exc}") from None

    def sdk_kwargs(self) -> dict[str, Any]:
        return {
            "status_code_retries": self.status_code_retries,
            "status_code_retry_delay": self.status_code_retry_delay,
            "retriable_status_codes": RETRIABLE_STATUS_CODES,
            "connect_retries": self.connect_retries,
            "api_timeout": self.api_timeout,
        }


@dataclass(frozen=True)
class CloudEntry:
    name: str
    project: str  # the CloudAccount id: the OpenStack project name
    regions: tuple[str, ...]
    auth: Mapping[str, Any] | None = field(default=None, repr=False)  # None: use clouds.yaml `name`
    auth_type: str | None = None
    clouds_file: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_mapping(cls, raw: Any, index: int) -> CloudEntry:
        where = f"sources.openstack.clouds[{index}]"
        if not isinstance(raw, Mapping) or not raw.get("name"):
            raise OpenStackConfigError(f"{where}: expected a mapping with a `name`")
        name = str(raw["name"])
        auth = raw.get("auth")
        if auth is not None and not isinstance(auth, Mapping):
            raise OpenStackConfigError(f"{where} ({name}): `auth` must be a mapping")
        regions = raw.get("regions") or []
        if not isinstance(regions, list):
            raise OpenStackConfigError(f"{where} ({name}): `regions` must be a list")
        auth_type = raw.get("auth_type")
        if auth is not None and auth_type is None:
            auth_type = "v3applicationcredential" if any(k in auth for k in APP_CREDENTIAL_KEYS) else "password"
        clouds_file = raw.get("clouds_file")
        project = raw.get("project")
        if not project and auth is not None:
            project = auth.get("project_name") or auth.get("project_id")
        if not project and auth is None:
            project = _project_from_clouds_yaml(name, clouds_file, where)
        return cls(
            name=name, project=str(project or name), regions=tuple(str(r) for r in regions), auth=auth,
            auth_type=auth_type, clouds_file=str(clouds_file) if clouds_file else None,
            settings={k: raw[k] for k in PASSTHROUGH_KEYS if k in raw},
        )


def _openstack_config(clouds_file: str | None) -> OpenStackConfig:
    return OpenStackConfig(config_files=[clouds_file]) if clouds_file else OpenStackConfig()


def _project_from_clouds_yaml(name: str, clouds_file: str | None, where: str) -> str | None:
    try:
        auth = _openstack_config(clouds_file).get_one(cloud=name).auth
    except Exception as exc:  # the SDK's config errors; their text names the cloud, not secrets
        raise OpenStackConfigError(f"{where}: cloud {name!r} not usable from clouds.yaml: "
                                   f"{type(exc).__name__}") from None
    return auth.get("project_name") or auth.get("project_id")


def connect(entry: CloudEntry, region: str | None, options: ClientOptions) -> openstack.connection.Connection:
    """A new connection for `region` (None: the cloud's default). Authenticates lazily, on first use."""
    kwargs = {**options.sdk_kwargs(), **entry.settings}
    if entry.auth is not None:
        config = OpenStackConfig(load_yaml_config=False, load_envvars=False)
        cloud_region = config.get_one(auth_type=entry.auth_type, auth=dict(entry.auth), region_name=region, **kwargs)
    else:
        cloud_region = _openstack_config(entry.clouds_file).get_one(cloud=entry.name, region_name=region, **kwargs)
    return openstack.connection.Connection(config=cloud_region)


def catalog_regions(conn: openstack.connection.Connection) -> list[str]:
    """Regions that offer compute to this project, read from the token's service catalog."""
    auth = conn.session.auth
    if auth is None or not hasattr(auth, "get_access"):
        raise RuntimeError("the connection has no identity plugin to read a service catalog from")
    access = auth.get_access(conn.session)
    endpoints = access.service_catalog.get_endpoints(service_type="compute", interface="public")
    regions = {e.get("region_id") or e.get("region") for ep in endpoints.values() for e in ep}
    return sorted(r for r in regions if r)
