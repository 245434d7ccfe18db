"""A landscape that moves: machines, shoots and tokens change the way a live Gardener changes them.

`Churn` drives the Gardener simulator (and, for AWS shoots, the AWS simulator's EC2 world) through
the same steps the real controllers take, so every intermediate state a watcher or a cloud read can
see is one that really occurs:

- a new Machine (machine-controller-manager): the Machine object appears without providerID
  (Pending), then the VM is launched, then the Machine gets the VM's providerID (Running);
- a Machine going away: the Machine is marked for deletion (Terminating), the VM is terminated,
  then the Machine object disappears;
- a new shoot, a deleted shoot (its machines go first), a hibernated shoot (its machines go);
- viewer tokens of a seed expire while watches are using them.

Tests call the steps directly; `graphinv sim serve --churn RATE` and bench/watch.py run `start(rate)`,
a background thread that keeps about RATE API events per second going.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from graphinv.sim.gardener_api import GARDEN, MACHINES, SHOOTS, GardenerAPI, _machine, _shoot
from graphinv.sim.landscape import Instance, Machine, Shoot, Worker

log = logging.getLogger(__name__)


@dataclass
class _Vm:
    """A VM the churn launched or found for a machine (AWS only: the EC2 world of the AWS simulator)."""

    instance: Any  # graphinv.sim.aws_world.Ec2Instance
    region: Any  # graphinv.sim.aws_world.RegionWorld
    provider_id: str


@dataclass
class _LiveMachine:
    shoot: Shoot
    machine: Machine
    vm: _Vm | None = None


@dataclass
class ChurnStats:
    machines_created: int = 0
    machines_deleted: int = 0
    shoots_created: int = 0
    shoots_deleted: int = 0
    shoots_hibernated: int = 0
    tokens_expired: int = 0
    vms_launched: int = 0
    vms_terminated: int = 0
    log: list[str] = field(default_factory=list)  # the last steps, for people watching `sim serve`


class Churn:
    """Changes a running simulated landscape step by step. Thread-safe; one step at a time."""

    def __init__(self, api: GardenerAPI, aws: Any | None = None, seed: int = 0,
                 clock: Callable[[], float] = time.time) -> None:
        self.api = api
        self.aws = aws  # graphinv.sim.aws.AwsSim (native engine) or None
        self.rng = random.Random(seed)
        self.clock = clock
        self.stats = ChurnStats()
        self._lock = threading.RLock()
        self._counter = 0
        self._namespaces = {p.name: p.namespace for p in api.landscape.projects}
        self.shoots: dict[str, Shoot] = {}  # technical id -> shoot (live ones)
        self.machines: dict[tuple[str, str], _LiveMachine] = {}  # (seed, machine name) -> machine
        vms = self._aws_vms()
        for shoot in api.landscape.shoots:
            self.shoots[shoot.technical_id] = shoot
            for machine in shoot.machines:
                vm = vms.get(machine.vm) if machine.vm else None
                self.machines[(shoot.seed, machine.name)] = _LiveMachine(shoot, machine, vm)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- what exists ------------------------------------------------------------------------------
    def _aws_vms(self) -> dict[str, _Vm]:
        if self.aws is None or getattr(self.aws, "world", None) is None:
            return {}
        out = {}
        for region, inst in self.aws.world.instances():
            out[inst.key] = _Vm(inst, region, f"aws:///{inst.zone}/{inst.id}")
        return out

    def _region_world(self, shoot: Shoot) -> Any | None:
        if self.aws is None or shoot.provider != "aws" or getattr(self.aws, "api", None) is None:
            return None  # only the native AWS engine's world can be changed in place
        account = self.aws.world.accounts.get(shoot.account)
        return account.regions.get(shoot.region) if account else None

    def _unique(self) -> str:
        self._counter += 1
        return f"{self.rng.getrandbits(20):05x}-c{self._counter:04d}"

    def _note(self, text: str) -> None:
        self.stats.log.append(text)
        del self.stats.log[:-50]

    def _namespace(self, shoot: Shoot) -> str:
        return self._namespaces.get(shoot.project, f"garden-{shoot.project}")

    # -- machines ---------------------------------------------------------------------------------
    def create_machine(self, technical_id: str | None = None, launch_vm: bool = True,
                       set_provider_id: bool = True) -> tuple[str, str]:
        """A new machine of a shoot (a random awake one by default): Machine, VM, providerID.
        Returns (seed, machine name). `launch_vm`/`set_provider_id` stop the sequence early (tests)."""
        with self._lock:
            shoot = self.shoots[technical_id] if technical_id else self._pick_shoot()
            pool = shoot.workers[0].name if shoot.workers else "worker"
            zone = (shoot.workers[0].zones[0] if shoot.workers and shoot.workers[0].zones else None)
            name = f"{shoot.technical_id}-{pool}-z1-{self._unique()}"
            machine = Machine(name=name, phase="Pending")
            live = _LiveMachine(shoot, machine)
            self.machines[(shoot.seed, name)] = live
            self.api.apply(shoot.seed, MACHINES, _machine(machine, shoot, None, self.api.landscape.seed))
            self.stats.machines_created += 1
            if launch_vm:
                live.vm = self._launch(shoot, name, zone)
            if launch_vm and set_provider_id:
                self.set_provider_id(shoot.seed, name)
            self._note(f"machine {shoot.seed}/{name} created")
            return shoot.seed, name

    def set_provider_id(self, seed: str, name: str, provider_id: str | None = None) -> None:
        """The machine-controller-manager writes the VM's providerID (or `provider_id`) and Running."""
        with self._lock:
            live = self.machines[(seed, name)]
            pid = provider_id or (live.vm.provider_id if live.vm else None)
            live.machine = Machine(name=name, phase="Running")
            self.api.apply(seed, MACHINES, _machine(live.machine, live.shoot, pid, self.api.landscape.seed))

    def delete_machine(self, seed: str | None = None, name: str | None = None,
                       remove_object: bool = True) -> tuple[str, str] | None:
        """Terminating, VM terminated, Machine gone. Returns (seed, name), or None when none is left."""
        with self._lock:
            if seed is None or name is None:
                if not self.machines:
                    return None
                seed, name = self.rng.choice(sorted(self.machines))
            live = self.machines[(seed, name)]
            current = self.api.get(seed, MACHINES, live.shoot.technical_id, name)
            if current is not None:
                current["metadata"]["deletionTimestamp"] = _now_iso(self.clock())
                current.setdefault("status", {}).setdefault("currentStatus", {})["phase"] = "Terminating"
                self.api.apply(seed, MACHINES, current)
            if live.vm is not None:
                self._terminate(live.vm)
            if remove_object:
                self.api.delete(seed, MACHINES, live.shoot.technical_id, name)
                del self.machines[(seed, name)]
                self.stats.machines_deleted += 1
                self._note(f"machine {seed}/{name} deleted")
            return seed, name

    def _launch(self, shoot: Shoot, name: str, zone: str | None) -> _Vm | None:
        region = self._region_world(shoot)
        if region is None:
            return None
        from graphinv.sim.aws_world import _Addresses, _build_instance  # the AWS world's own builder

        zone = zone if zone in region.zones else region.zones[0]
        hosts_used = [sum(1 for i in region.instances if i.subnet_index == k) for k in range(len(region.zones))]
        spec = Instance(key=f"churn:{shoot.technical_id}/{name}", name=name, zone=zone,
                        type=shoot.workers[0].machine_type if shoot.workers else "m5.large",
                        shoot=f"{shoot.project}/{shoot.name}",
                        created=datetime.fromtimestamp(self.clock(), UTC).isoformat())
        inst = _build_instance(self.api.landscape.seed, region, spec, hosts_used, _Addresses())
        region.instances = [*region.instances, inst]  # a new list: readers iterating the old one are safe
        self.stats.vms_launched += 1
        return _Vm(inst, region, f"aws:///{inst.zone}/{inst.id}")

    def _terminate(self, vm: _Vm) -> None:
        inst, region = vm.instance, vm.region
        if inst.state == "terminated":
            return
        inst.state = "terminated"
        inst.own_public_ip = None
        gone = {id(v) for v in [inst.root_volume, *inst.data_volumes] if v is not None}
        region.volumes = [v for v in region.volumes if id(v) not in gone]
        inst.root_volume = None
        inst.data_volumes = []
        self.stats.vms_terminated += 1

    # -- shoots -----------------------------------------------------------------------------------
    def _pick_shoot(self) -> Shoot:
        awake = sorted((s for s in self.shoots.values() if not s.hibernated), key=lambda s: s.technical_id)
        aws = [s for s in awake if self._region_world(s) is not None]
        pool = aws or awake
        if not pool:
            raise RuntimeError("no awake shoot left to change")
        return self.rng.choice(pool)

    def create_shoot(self, like: str | None = None) -> str:
        """A new shoot on the seed of an existing one (`like`, or a random one); returns its technical id."""
        with self._lock:
            model = self.shoots[like] if like else self._pick_shoot()
            shoot = Shoot(name=f"c{self._unique().replace('-', '')}"[:10], project=model.project, seed=model.seed,
                          provider=model.provider, region=model.region, account=model.account,
                          cloud_profile=model.cloud_profile,
                          workers=[Worker(w.name, w.machine_type, w.minimum, w.maximum, list(w.zones))
                                   for w in model.workers] or [Worker("worker", "m5.large", 1, 2, [])])
            self.shoots[shoot.technical_id] = shoot
            self.api.apply(GARDEN, SHOOTS, _shoot(shoot, self._namespace(shoot), self.api.landscape.seed))
            self.stats.shoots_created += 1
            self._note(f"shoot {shoot.technical_id} created")
            return shoot.technical_id

    def delete_shoot(self, technical_id: str | None = None) -> str:
        """Its machines go first (VMs terminated), then the Shoot object."""
        with self._lock:
            shoot = self.shoots[technical_id] if technical_id else self._pick_shoot()
            for seed, name in sorted(k for k, m in self.machines.items() if m.shoot is shoot):
                self.delete_machine(seed, name)
            self.api.delete(GARDEN, SHOOTS, self._namespace(shoot), shoot.name)
            del self.shoots[shoot.technical_id]
            self.stats.shoots_deleted += 1
            self._note(f"shoot {shoot.technical_id} deleted")
            return shoot.technical_id

    def hibernate_shoot(self, technical_id: str | None = None) -> str:
        """spec.hibernation.enabled, then its machines go."""
        with self._lock:
            shoot = self.shoots[technical_id] if technical_id else self._pick_shoot()
            shoot.hibernated = True
            self.api.apply(GARDEN, SHOOTS, _shoot(shoot, self._namespace(shoot), self.api.landscape.seed))
            for seed, name in sorted(k for k, m in self.machines.items() if m.shoot is shoot):
                self.delete_machine(seed, name)
            self.stats.shoots_hibernated += 1
            self._note(f"shoot {shoot.technical_id} hibernated")
            return shoot.technical_id

    def expire_tokens(self, seed: str | None = None) -> str:
        with self._lock:
            seed = seed or self.rng.choice(sorted(self.api.seeds))
            self.stats.tokens_expired += self.api.expire_viewer_tokens(seed)
            self._note(f"viewer tokens of seed {seed} expired")
            return seed

    # -- a random step, and a background rate ---------------------------------------------------
    def step(self) -> None:
        """One random change, weighted like a busy landscape: mostly machines coming and going."""
        roll = self.rng.random()
        if roll < 0.48 or len(self.machines) < 5:
            self.create_machine()
        elif roll < 0.96:
            self.delete_machine()
        elif roll < 0.975:
            self.create_shoot()
        elif roll < 0.985:
            self.delete_shoot()
        elif roll < 0.995:
            self.hibernate_shoot()
        else:
            self.expire_tokens()

    def start(self, rate: float) -> None:
        """Keep about `rate` API events per second going until `stop()`."""
        if rate <= 0:
            raise ValueError("the churn rate must be positive")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(rate,), name="sim-churn", daemon=True)
        self._thread.start()

    def _run(self, rate: float) -> None:
        begin_rv, begin = self.api.resource_version, time.monotonic()
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # a step that cannot run now (nothing left to delete, ...) is skipped
                log.debug("churn step skipped", exc_info=True)
            # Pace by events actually made: each step makes one to a dozen API events.
            made = self.api.resource_version - begin_rv
            ahead = made / rate - (time.monotonic() - begin)
            if ahead > 0 and self._stop.wait(ahead):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


def _now_iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
