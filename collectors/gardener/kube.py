"""Kubernetes API clients for the garden and the seeds, from the three ways of logging in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config

from collectors.gardener.settings import GardenerSettings


class GardenerAuthError(RuntimeError):
    """A client could not be built; the message names the file or setting, never its content."""


def garden_client(settings: GardenerSettings) -> client.ApiClient:
    if settings.kubeconfig:
        return client_from_kubeconfig_file(settings.kubeconfig, settings.context)
    if settings.token_file and settings.server:
        return client_from_token_file(settings.server, settings.token_file, settings.ca_file)
    return in_cluster_client()


def client_from_kubeconfig_file(path: str, context: str | None = None) -> client.ApiClient:
    if not Path(path).is_file():
        raise GardenerAuthError(f"kubeconfig {path} does not exist")
    try:
        return config.new_client_from_config(config_file=path, context=context, persist_config=False)
    except (config.ConfigException, yaml.YAMLError, OSError) as exc:
        raise GardenerAuthError(f"kubeconfig {path} cannot be used: {type(exc).__name__}") from None


def client_from_kubeconfig_dict(kubeconfig: dict[str, Any], what: str) -> client.ApiClient:
    try:
        return config.new_client_from_config_dict(kubeconfig, persist_config=False)
    except (config.ConfigException, TypeError, KeyError, ValueError) as exc:
        # `from None`: the original exception may quote the kubeconfig, token included.
        raise GardenerAuthError(f"{what} cannot be used: {type(exc).__name__}") from None


def client_from_token_file(server: str, token_file: str, ca_file: str | None) -> client.ApiClient:
    try:
        token = Path(token_file).read_text().strip()
    except OSError as exc:
        raise GardenerAuthError(f"token file {token_file} cannot be read: {exc.strerror}") from None
    if not token:
        raise GardenerAuthError(f"token file {token_file} is empty")
    configuration = client.Configuration()
    configuration.host = server.rstrip("/")
    configuration.api_key = {"authorization": f"Bearer {token}"}
    if ca_file:
        configuration.ssl_ca_cert = ca_file
    return client.ApiClient(configuration)


def in_cluster_client() -> client.ApiClient:
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException as exc:
        raise GardenerAuthError(f"in-cluster config is not available: {exc}") from None
    return client.ApiClient(configuration)
