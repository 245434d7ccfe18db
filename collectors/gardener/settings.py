"""The `sources.gardener` config section, checked once so the collector code can trust it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_PAGE_SIZE = 500
DEFAULT_VIEWER_SECONDS = 1800


class GardenerConfigError(ValueError):
    """The gardener section is malformed; the message names the key (never a credential)."""


@dataclass(frozen=True)
class GardenerSettings:
    kubeconfig: str | None = None
    context: str | None = None
    token_file: str | None = None
    server: str | None = None
    ca_file: str | None = None
    in_cluster: bool = False
    seed_kubeconfigs: dict[str, str] = field(default_factory=dict)  # seed name -> kubeconfig path
    viewer_kubeconfig: bool = True
    viewer_expiration_seconds: int = DEFAULT_VIEWER_SECONDS
    excluded_seeds: frozenset[str] = frozenset()
    page_size: int = DEFAULT_PAGE_SIZE
    request_timeout: float = 60.0


def parse_settings(section: Mapping[str, Any]) -> GardenerSettings:
    if not isinstance(section, Mapping):
        raise GardenerConfigError("sources.gardener must be a mapping")
    known = {"kubeconfig", "context", "token_file", "server", "ca_file", "in_cluster", "seeds",
             "viewer_kubeconfig", "viewer_expiration_seconds", "excluded_seeds", "concurrency", "page_size",
             "request_timeout"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise GardenerConfigError(f"sources.gardener: unknown key(s) {', '.join(unknown)}")
    ways = [bool(section.get("kubeconfig")), bool(section.get("token_file") or section.get("server")),
            bool(section.get("in_cluster"))]
    if sum(ways) != 1:
        raise GardenerConfigError("sources.gardener: give exactly one of kubeconfig, token_file + server, "
                                  "or in_cluster: true")
    if ways[1] and not (section.get("token_file") and section.get("server")):
        raise GardenerConfigError("sources.gardener: token_file and server go together")
    seeds_raw = section.get("seeds") or {}
    if not isinstance(seeds_raw, Mapping):
        raise GardenerConfigError("sources.gardener.seeds must map seed names to {kubeconfig: path}")
    seeds: dict[str, str] = {}
    for name, entry in seeds_raw.items():
        if not isinstance(entry, Mapping) or not entry.get("kubeconfig"):
            raise GardenerConfigError(f"sources.gardener.seeds.{name}: needs a kubeconfig path")
        seeds[str(name)] = str(entry["kubeconfig"])
    excluded = section.get("excluded_seeds") or []
    if not isinstance(excluded, list | tuple):
        raise GardenerConfigError("sources.gardener.excluded_seeds must be a list of seed names")
    try:
        page_size = int(_default(section.get("page_size"), DEFAULT_PAGE_SIZE))
        seconds = int(_default(section.get("viewer_expiration_seconds"), DEFAULT_VIEWER_SECONDS))
        timeout = float(_default(section.get("request_timeout"), 60.0))
    except (TypeError, ValueError) as exc:
        raise GardenerConfigError("sources.gardener: page_size, viewer_expiration_seconds and "
                                  "request_timeout must be numbers") from exc
    if page_size <= 0 or seconds <= 0 or timeout <= 0:
        raise GardenerConfigError("sources.gardener: page_size, viewer_expiration_seconds and "
                                  "request_timeout must be positive")
    return GardenerSettings(
        kubeconfig=_opt_str(section.get("kubeconfig")),
        context=_opt_str(section.get("context")),
        token_file=_opt_str(section.get("token_file")),
        server=_opt_str(section.get("server")),
        ca_file=_opt_str(section.get("ca_file")),
        in_cluster=bool(section.get("in_cluster")),
        seed_kubeconfigs=seeds,
        viewer_kubeconfig=bool(section.get("viewer_kubeconfig", True)),
        viewer_expiration_seconds=seconds,
        excluded_seeds=frozenset(str(s) for s in excluded),
        page_size=page_size,
        request_timeout=timeout,
    )


def _default(value: Any, default: Any) -> Any:
    return default if value is None else value


def _opt_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
