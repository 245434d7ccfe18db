"""The simulated AWS of a landscape: EC2 and STS on 127.0.0.1, served by one of two engines.

- engine "native" (default): our own EC2/STS Query responder (graphinv.sim.aws_query). Fast at any
  scale, deterministic ids, and it injects the landscape's faults (forbidden scopes, throttling).
- engine "moto": moto's server in a subprocess, seeded through boto3 (graphinv.sim.aws_moto). Slow,
  no fault injection, but an independent implementation to check the native responder against.

Both serve the same AwsWorld (graphinv.sim.aws_world), so a collector sees the same resources from
either, up to ids, timestamps and instances' own public addresses that moto chooses itself.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from graphinv.ports import free_port
from graphinv.sim.aws_moto import READER_ROLE, MotoProcess, MotoSeeded, own_public_addresses, seed_moto
from graphinv.sim.aws_query import AwsQueryApi, base_access_key, base_secret
from graphinv.sim.aws_world import AwsWorld, build_world
from graphinv.sim.http import SimHTTPServer
from graphinv.sim.landscape import Fault, Landscape

log = logging.getLogger(__name__)

Engine = Literal["native", "moto"]
OWN_PUBLIC_IP_SUFFIX = "#public-ip"
_LABEL_BY_ID_PREFIX = {"i": "Instance", "vol": "Disk", "eipalloc": "IP"}


class AwsSim:
    provider = "aws"

    def __init__(self, landscape: Landscape, workdir: Path, engine: Engine = "native",
                 session_seconds: float | None = None) -> None:
        # AssumeRole sessions expire after this many seconds whatever DurationSeconds asks (AWS's
        # minimum is 15 minutes), so tests cross an expiry the simulator enforces (ExpiredToken).
        self.session_seconds = session_seconds
        if engine not in ("native", "moto"):
            raise ValueError(f"unknown AWS engine {engine!r} (native or moto)")
        self.engine = engine
        self.workdir = Path(workdir)
        self.world: AwsWorld = build_world(landscape)
        self.scope_faults: dict[tuple[str, str], list[Fault]] = {
            (account.id, region.name): [*account.faults, *region.faults]
            for account in landscape.accounts if account.provider == "aws" for region in account.regions
            if account.faults or region.faults}
        self.api: AwsQueryApi | None = None  # the native responder, for its request counters
        self._server: SimHTTPServer | None = None
        self._moto: MotoProcess | None = None
        self._seeded: MotoSeeded | None = None

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        if self.engine == "native":
            self.api = AwsQueryApi(self.world)
            self.api.scope_faults = self.scope_faults
            self.api.session_seconds = self.session_seconds
            self._server = SimHTTPServer(self.api.handle, name="aws").start()
            return
        if self.scope_faults:
            log.warning("moto engine: the landscape's `faults` are played by the native engine only")
        self._moto = MotoProcess(free_port(), self.workdir)
        self._moto.start()
        try:
            self._moto.reset(self.world.seed)
            self._seeded = seed_moto(self._moto.url, self.world)
        except Exception:
            self._moto.stop()
            raise

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def __enter__(self) -> AwsSim:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- what the runtime and tests ask -----------------------------------------------------------
    @property
    def endpoint_url(self) -> str:
        if self._server is not None:
            return self._server.url
        if self._moto is not None:
            return self._moto.url
        raise RuntimeError("the AWS simulator is not running")

    def instance_ids(self) -> dict[str, str]:
        """Instance key -> the id the engine serves it under."""
        if self._seeded is not None:
            return dict(self._seeded.instance_ids)
        return {inst.key: inst.id for _, inst in self.world.instances()}

    def id_map(self) -> dict[str, str]:
        """Served id (instance, volume, allocation, VPC) -> landscape key (`vpc:<account>/<region>`
        for VPCs, `<instance key>#root` for implicit root volumes)."""
        if self._seeded is not None:
            return dict(self._seeded.ids)
        ids: dict[str, str] = {}
        for region in self.world.region_worlds():
            ids[region.vpc_id] = f"vpc:{region.account}/{region.name}"
            ids.update({i.id: i.key for i in region.instances})
            ids.update({v.id: v.key for v in region.volumes})
            ids.update({a.allocation_id: a.key for a in region.addresses})
        return ids

    def resource_ids(self) -> dict[str, tuple[str, str]]:
        """Landscape key -> (label, uid the AWS collector writes) for every served instance, volume and
        address. Implicit ones: root volumes as `<instance key>#root` (unless a listed boot disk stands
        for it), instances' own (non-Elastic) public addresses as `<instance key>#public-ip`."""
        region_of: dict[str, str] = {}
        for region in self.world.region_worlds():
            region_of.update({inst.key: region.name for inst in region.instances})
        out: dict[str, tuple[str, str]] = {}
        for served_id, key in self.id_map().items():
            label = _LABEL_BY_ID_PREFIX.get(served_id.split("-", 1)[0])
            if label is not None:  # VPCs are no graph resource
                out[key] = (label, served_id)
        if self._seeded is not None and self._moto is not None:
            # moto picks instances' own public addresses itself: ask it which ones it gave.
            own = own_public_addresses(self._moto.url, self.world, self._seeded)
        else:
            own = {inst.key: inst.own_public_ip for _, inst in self.world.instances()
                   if inst.own_public_ip and inst.elastic_ip is None}
        for key, address in own.items():
            out[f"{key}{OWN_PUBLIC_IP_SUFFIX}"] = ("IP", f"aws:{region_of[key]}:{address}")
        return out

    def provider_ids(self) -> dict[str, str]:
        served = self.instance_ids()
        return {inst.key: f"aws:///{inst.zone}/{served[inst.key]}" for _, inst in self.world.instances()}

    def throttled_requests(self, account: str, region: str | None = None) -> int:
        """How many requests of this account (or account and region) the native engine throttled."""
        if self.api is None:
            return 0
        return self.api.count(account=account, region=region, status=503)

    def source_config(self) -> dict[str, Any]:
        """The `sources.aws` config section that reaches this simulator."""
        if not self.world.accounts:
            return {}
        base = self.world.base_account
        if self._seeded is not None:
            key, secret = self._seeded.base_access_key, self._seeded.base_secret_key
        else:
            key, secret = base_access_key(self.world.seed), base_secret(self.world.seed)
        accounts = []
        for account in self.world.accounts.values():
            entry: dict[str, Any] = {"id": account.id, "regions": list(account.regions)}
            if account.id != base:
                entry["role_arn"] = f"arn:aws:iam::{account.id}:role/{READER_ROLE}"
            accounts.append(entry)
        home = next(iter(self.world.accounts[base].regions), "eu-west-1")
        return {
            "endpoint_url": self.endpoint_url,
            "region": home,
            "credentials": {"access_key_id": key, "secret_access_key": secret},
            "accounts": accounts,
            "concurrency": 8,
        }
