"""Run a whole simulated landscape: the cloud simulators it needs, then the Gardener simulator.

    with SimulatedLandscape(landscape, workdir) as sim:
        sim.write_config(workdir / "graphinv.yaml")   # a graphinv config that reaches every simulator

Cloud simulators are imported only for providers that have accounts in the landscape, so a
Gardener-only or AWS-only landscape needs none of the other SDK fakes. The Gardener simulator
starts last because Machines carry the providerIDs that the cloud simulators chose.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import yaml

from graphinv.sim.base import CloudSim
from graphinv.sim.gardener_api import GardenerAPIOptions, GardenerSim
from graphinv.sim.landscape import PROVIDERS, Landscape

log = logging.getLogger(__name__)

AwsEngine = Literal["native", "moto"]

# provider -> (module, class) implementing graphinv.sim.base.CloudSim
CLOUD_SIMS: dict[str, tuple[str, str]] = {
    "aws": ("graphinv.sim.aws", "AwsSim"),
    "gcp": ("graphinv.sim.gcp", "GcpSim"),
    "azure": ("graphinv.sim.azure", "AzureSim"),
    "openstack": ("graphinv.sim.openstack", "OpenStackSim"),
}


class SimulatorStartError(RuntimeError):
    """A simulator could not start; the ones already running were stopped."""


class SimulatedLandscape:
    def __init__(self, landscape: Landscape, workdir: str | Path, aws_engine: AwsEngine = "native",
                 gardener_options: GardenerAPIOptions | None = None,
                 cloud_options: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """`cloud_options`: provider -> keyword arguments of its simulator, e.g.
        `{"gcp": {"auth": "service_account"}}` (config() then names the service account's key file)."""
        if aws_engine not in ("native", "moto"):
            raise ValueError("aws_engine must be 'native' or 'moto'")
        unknown = sorted(set(cloud_options or {}) - set(CLOUD_SIMS))
        if unknown:
            raise ValueError(f"cloud_options for unknown providers: {', '.join(unknown)}")
        self.landscape = landscape
        self.workdir = Path(workdir)
        self.aws_engine = aws_engine
        self.gardener_options = gardener_options
        self.cloud_options = {provider: dict(options) for provider, options in (cloud_options or {}).items()}
        self.clouds: dict[str, CloudSim] = {}
        self.gardener: GardenerSim | None = None

    def providers(self) -> list[str]:
        present = {account.provider for account in self.landscape.accounts}
        return [p for p in PROVIDERS if p in present]

    def _make_cloud(self, provider: str) -> CloudSim:
        module_name, class_name = CLOUD_SIMS[provider]
        cls = getattr(importlib.import_module(module_name), class_name)
        workdir = self.workdir / provider
        workdir.mkdir(parents=True, exist_ok=True)
        if provider == "aws" and self.aws_engine != "native":
            if "engine" not in inspect.signature(cls).parameters:
                raise SimulatorStartError(f"{module_name}.{class_name} takes no engine= argument; "
                                          f"aws_engine={self.aws_engine!r} is not available")
            return cls(self.landscape, workdir, engine=self.aws_engine, **self.cloud_options.get(provider, {}))
        return cls(self.landscape, workdir, **self.cloud_options.get(provider, {}))

    def start(self) -> SimulatedLandscape:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            provider_ids: dict[str, str] = {}
            for provider in self.providers():
                sim = self._make_cloud(provider)
                sim.start()
                self.clouds[provider] = sim
                provider_ids.update(sim.provider_ids())
            self.gardener = GardenerSim(self.landscape, self.workdir / "gardener", provider_ids,
                                        options=self.gardener_options)
            self.gardener.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        # Stop everything, even when one stop fails, and in the reverse order of starting.
        errors: list[str] = []
        sims: list[Any] = [self.gardener, *reversed(list(self.clouds.values()))]
        for sim in sims:
            if sim is None:
                continue
            try:
                sim.stop()
            except Exception as exc:  # keep stopping the rest
                errors.append(f"{getattr(sim, 'provider', type(sim).__name__)}: {type(exc).__name__}: {exc}")
        self.gardener = None
        self.clouds = {}
        if errors:
            log.warning("simulators did not stop cleanly: %s", "; ".join(errors))

    def __enter__(self) -> SimulatedLandscape:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def resource_ids(self) -> dict[str, tuple[str, str]]:
        """Landscape key -> (label, uid graphinv's collectors write) over every running cloud
        simulator (see CloudSim.resource_ids); keys are unique across the landscape."""
        merged: dict[str, tuple[str, str]] = {}
        for provider, sim in self.clouds.items():
            ids = sim.resource_ids()
            clash = sorted(set(ids) & set(merged))
            if clash:
                raise RuntimeError(f"{provider} simulator reuses landscape keys {clash[:5]}")
            merged.update(ids)
        return merged

    def endpoints(self) -> dict[str, str]:
        """provider -> where its simulator listens (for people; config() is for graphinv)."""
        out: dict[str, str] = {}
        if self.gardener is not None:
            out["gardener"] = self.gardener.url
        for provider, sim in self.clouds.items():
            section = sim.source_config()
            url = section.get("endpoint_url") or section.get("api_endpoint") or section.get("base_url")
            if not url and section.get("clouds"):
                url = ((section["clouds"][0].get("auth") or {}).get("auth_url"))
            out[provider] = str(url or "?")
        return out

    def config(self) -> dict[str, Any]:
        if self.gardener is None:
            raise RuntimeError("the simulated landscape is not running")
        sources: dict[str, Any] = {"gardener": self.gardener.source_config()}
        for provider, sim in self.clouds.items():
            sources[provider] = sim.source_config()
        return {"sources": sources}

    def write_config(self, path: str | Path) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        target.chmod(0o600)  # simulator credentials, but credentials all the same
        return target
