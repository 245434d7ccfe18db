"""From one `sources.openstack.clouds[]` entry (collectors/openstack/settings.py) to openstacksdk
connections.

Explicit auth dicts never read the host's clouds.yaml or OS_* variables, so a config file says
everything that is used. The entry's credentials are kept out of every repr and error message.
"""

from __future__ import annotations

from typing import Any

import openstack.connection
from openstack.config import OpenStackConfig

from collectors.openstack.settings import OpenStackCloud, OpenStackSettings

RETRIABLE_STATUS_CODES = [429, 503]


class OpenStackConfigError(ValueError):
    """A cloud entry cannot be used (e.g. its clouds.yaml entry); names the entry, never a secret."""


def sdk_options(settings: OpenStackSettings) -> dict[str, Any]:
    """Retries and the timeout as openstacksdk takes them (`api_timeout` becomes keystoneauth's
    session timeout)."""
    return {
        "status_code_retries": settings.status_code_retries,
        "status_code_retry_delay": settings.status_code_retry_delay,
        "retriable_status_codes": RETRIABLE_STATUS_CODES,
        "connect_retries": settings.connect_retries,
        "api_timeout": settings.read_seconds,
    }


def project_of(entry: OpenStackCloud, where: str) -> str:
    """The CloudAccount id: the configured project, the auth's project, the clouds.yaml entry's
    project, or the entry's name."""
    if entry.project:
        return entry.project
    if entry.auth is None:
        return _project_from_clouds_yaml(entry.name, entry.clouds_file, where) or entry.name
    return entry.name


def _openstack_config(clouds_file: str | None) -> OpenStackConfig:
    return OpenStackConfig(config_files=[clouds_file]) if clouds_file else OpenStackConfig()


def _project_from_clouds_yaml(name: str, clouds_file: str | None, where: str) -> str | None:
    try:
        auth = _openstack_config(clouds_file).get_one(cloud=name).auth
    except Exception as exc:  # the SDK's config errors; their text names the cloud, not secrets
        raise OpenStackConfigError(f"{where}: cloud {name!r} not usable from clouds.yaml: "
                                   f"{type(exc).__name__}") from None
    return auth.get("project_name") or auth.get("project_id")


def connect(entry: OpenStackCloud, region: str | None, settings: OpenStackSettings) -> openstack.connection.Connection:
    """A new connection for `region` (None: the cloud's default). Authenticates lazily, on first use."""
    kwargs = {**sdk_options(settings), **entry.passthrough()}
    if entry.auth is not None:
        config = OpenStackConfig(load_yaml_config=False, load_envvars=False)
        cloud_region = config.get_one(auth_type=entry.auth_type, auth=entry.auth.for_sdk(), region_name=region,
                                      **kwargs)
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
