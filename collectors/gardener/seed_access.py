"""API clients for seeds: a static kubeconfig from config, or a short-lived viewer kubeconfig.

The viewer kubeconfig is requested from the garden for the seed's managed shoot
(`POST .../namespaces/garden/shoots/<seed>/viewerkubeconfig`), cached until about a minute before
it expires, and replaced once when the seed answers 401 with it (revoked or clock skew).
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import yaml
from kubernetes.client import ApiClient

from collectors.gardener.kube import GardenerAuthError, client_from_kubeconfig_dict, client_from_kubeconfig_file
from collectors.gardener.mapping import parse_time
from collectors.gardener.settings import GardenerSettings

log = logging.getLogger(__name__)

REFRESH_MARGIN_SECONDS = 60
VIEWER_PATH = "/apis/core.gardener.cloud/v1beta1/namespaces/{namespace}/shoots/{name}/viewerkubeconfig"


class SeedAccessError(RuntimeError):
    """No usable credentials for a seed; the message never holds a credential."""


@dataclass
class _Cached:
    api_client: ApiClient
    expires: float | None  # clock time; None for static kubeconfigs


class SeedAccess:
    """Hands out one API client per seed, thread-safe; `refresh` replaces a refused one."""

    def __init__(self, garden: ApiClient, settings: GardenerSettings,
                 clock: Callable[[], float] = time.time) -> None:
        self._garden = garden
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._seed_locks: dict[str, threading.Lock] = {}
        self._cache: dict[str, _Cached] = {}
        self.viewer_requests = 0

    def _seed_lock(self, seed: str) -> threading.Lock:
        with self._lock:
            return self._seed_locks.setdefault(seed, threading.Lock())

    def client(self, seed: str) -> ApiClient:
        with self._seed_lock(seed):
            cached = self._cache.get(seed)
            if cached is not None and (cached.expires is None
                                       or cached.expires - REFRESH_MARGIN_SECONDS > self._clock()):
                return cached.api_client
            fresh = self._acquire(seed)
            self._cache[seed] = fresh
            return fresh.api_client

    def refresh(self, seed: str) -> ApiClient:
        with self._seed_lock(seed):
            self._cache.pop(seed, None)
            fresh = self._acquire(seed)
            self._cache[seed] = fresh
            return fresh.api_client

    def _acquire(self, seed: str) -> _Cached:
        static = self._settings.seed_kubeconfigs.get(seed)
        if static:
            return _Cached(client_from_kubeconfig_file(static), None)
        if not self._settings.viewer_kubeconfig:
            raise SeedAccessError(f"no credentials for seed {seed!r}: list it under sources.gardener.seeds "
                                  f"or enable viewer_kubeconfig")
        return self._viewer(seed)

    def _viewer(self, seed: str) -> _Cached:
        body = {"apiVersion": "authentication.gardener.cloud/v1alpha1", "kind": "ViewerKubeconfigRequest",
                "spec": {"expirationSeconds": self._settings.viewer_expiration_seconds}}
        api = self._garden
        request = api.param_serialize(
            method="POST", resource_path=VIEWER_PATH, path_params={"namespace": "garden", "name": seed},
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            body=body, auth_settings=["BearerToken"])
        response = api.call_api(*request, _request_timeout=self._settings.request_timeout)
        response.read()
        # Raises ApiException on non-2xx; the error body is a Status, never a kubeconfig.
        data = api.response_deserialize(response, {"200": "object", "201": "object"}).data
        self.viewer_requests += 1
        status = data.get("status") if isinstance(data, dict) else None
        encoded = status.get("kubeconfig") if isinstance(status, dict) else None
        if not isinstance(encoded, str):
            raise SeedAccessError(f"viewer kubeconfig for seed {seed!r}: the answer has no status.kubeconfig")
        try:
            kubeconfig = yaml.safe_load(base64.b64decode(encoded))
        except (binascii.Error, ValueError, yaml.YAMLError):
            raise SeedAccessError(f"viewer kubeconfig for seed {seed!r} is not a readable kubeconfig") from None
        if not isinstance(kubeconfig, dict):
            raise SeedAccessError(f"viewer kubeconfig for seed {seed!r} is not a readable kubeconfig")
        expires_at: datetime | None = parse_time(status.get("expirationTimestamp"))
        expires = expires_at.timestamp() if expires_at else self._clock() + self._settings.viewer_expiration_seconds
        try:
            api_client = client_from_kubeconfig_dict(kubeconfig, f"viewer kubeconfig for seed {seed!r}")
        except GardenerAuthError as exc:
            raise SeedAccessError(str(exc)) from None
        log.debug("gardener: new viewer kubeconfig for seed %s, valid until %s", seed, expires_at)
        return _Cached(api_client, expires)
