"""The landscape file: what exists in a simulated Gardener landscape, and what ought to be found.

A landscape is plain data (YAML, documented in docs/landscape.md). The simulator serves it through
the real APIs; tests compare what graphinv finds with the `plant` annotations, which are the ground
truth ("this VM is a planted orphan").

Keys (`key`) are symbolic names, unique in the whole landscape, that tie things together inside the
file (a machine's `vm`, a disk's `attached_to`). The real ids (AWS `i-...`, Azure resource ids, ...)
are chosen by the simulator (or by moto) when it serves the landscape.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import yaml

Provider = Literal["aws", "gcp", "azure", "openstack"]
PROVIDERS: tuple[str, ...] = get_args(Provider)
# libyaml's C loader and dumper when present: a scale-100 landscape is ~100x faster to write.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class LandscapeError(ValueError):
    """The landscape file is malformed; the message names the place."""


@dataclass
class Project:
    name: str
    namespace: str = ""  # default: garden-<name>
    owner: str = "owner@example.com"
    plant: str | None = None

    def __post_init__(self) -> None:
        if not self.namespace:
            self.namespace = f"garden-{self.name}"


@dataclass
class Fault:
    """A fault a simulated API plays for one scope (graphinv/sim/faults.py): the requests of each
    list the scope reads are counted from 1 (pages, retries included), and requests `on_request` ..
    `on_request + times - 1` (every one from `on_request` on when `times` is 0) get the fault
    instead of their answer."""

    # http500: status 500 with the API's own error body; truncated: status 200, the real body cut
    # in half (Content-Length matching the cut); garbage: status 200, a body that is neither JSON
    # nor XML; html: a proxy's HTML error page (status 502 unless `status` says otherwise);
    # reset: the connection is reset without an answer; hang: no answer until the client gives up
    # (or `seconds` pass).
    kind: Literal["http500", "truncated", "garbage", "html", "reset", "hang"]
    on_request: int = 1
    times: int = 0
    status: int | None = None
    seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.on_request < 1 or self.times < 0 or self.seconds <= 0:
            raise LandscapeError(f"fault {self.kind}: on_request must be >= 1, times >= 0 and seconds > 0")


@dataclass
class Seed:
    name: str
    provider: Provider
    region: str
    # ok: machines readable; forbidden: the seed answers 403 (an unreadable seed);
    # expired: the first kubeconfig handed out is already expired (the collector must refresh it).
    access: Literal["ok", "forbidden", "expired"] = "ok"
    faults: list[Fault] = field(default_factory=list)  # played on the seed's Machine lists
    plant: str | None = None


@dataclass
class Worker:
    name: str
    machine_type: str
    minimum: int = 1
    maximum: int = 3
    zones: list[str] = field(default_factory=list)


@dataclass
class Machine:
    name: str
    vm: str | None = None  # key of the backing instance; the simulator fills spec.providerID from it
    provider_id: str | None = None  # literal providerID instead (e.g. pointing at a VM that is gone)
    phase: str = "Running"
    node: str | None = None  # default: the machine name
    plant: str | None = None


@dataclass
class Shoot:
    name: str
    project: str
    seed: str
    provider: Provider
    region: str
    account: str  # the cloud account/project/subscription/OpenStack project its VMs live in
    cloud_profile: str = ""
    hibernated: bool = False
    purpose: str = "evaluation"
    created_by: str = "owner@example.com"
    workers: list[Worker] = field(default_factory=list)
    machines: list[Machine] = field(default_factory=list)
    plant: str | None = None

    @property
    def technical_id(self) -> str:
        return technical_id(self.project, self.name)


@dataclass
class Bastion:
    name: str
    project: str
    shoot: str
    vm: str | None = None  # key of the bastion's instance
    plant: str | None = None


@dataclass
class Disk:
    key: str
    size_gb: int = 50
    name: str | None = None
    type: str | None = None  # provider default when absent
    zone: str | None = None  # default: the zone of the instance it is attached to, else the region's first
    state: str | None = None  # provider-native state; default: in use when attached, available otherwise
    boot: bool = False
    shoot: str | None = None  # "project/name": carries that shoot's cluster tag/label
    attached_to: str | None = None  # instance key (set implicitly for disks listed under an instance)
    tags: dict[str, str] = field(default_factory=dict)
    created: str | None = None  # ISO timestamp; default: a fixed date
    plant: str | None = None


@dataclass
class PublicIP:
    key: str
    name: str | None = None
    address: str | None = None  # default: allocated deterministically by the simulator
    shoot: str | None = None
    attached_to: str | None = None  # instance key; None = reserved and unused
    tags: dict[str, str] = field(default_factory=dict)
    created: str | None = None
    plant: str | None = None


@dataclass
class Instance:
    key: str
    name: str
    zone: str | None = None  # default: the region's first zone
    type: str = "m5.large"
    # provider-neutral state: running | stopped | terminated | pending | shutting-down
    state: str = "running"
    shoot: str | None = None  # "project/name": the shoot whose cluster tag/label it carries
    role: Literal["node", "bastion"] | None = None  # default: node when shoot is set
    tags: dict[str, str] = field(default_factory=dict)
    disks: list[Disk] = field(default_factory=list)  # attached disks (the first boot disk is implicit)
    public_ip: bool = False  # an ephemeral public address of the instance itself
    created: str | None = None
    plant: str | None = None


@dataclass
class Region:
    name: str
    zones: list[str] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)
    disks: list[Disk] = field(default_factory=list)  # free-standing or attached by `attached_to`
    ips: list[PublicIP] = field(default_factory=list)
    # Faults for this scope: forbidden (403 / AccessDenied), throttle (429 / RequestLimitExceeded the
    # first `throttle_times` requests, then success).
    access: Literal["ok", "forbidden"] = "ok"
    throttle_times: int = 0
    faults: list[Fault] = field(default_factory=list)


@dataclass
class Account:
    provider: Provider
    id: str  # AWS account id, GCP project id, Azure subscription id, OpenStack project name
    regions: list[Region] = field(default_factory=list)
    access: Literal["ok", "forbidden"] = "ok"
    throttle_times: int = 0
    faults: list[Fault] = field(default_factory=list)  # played on every scope of the account


@dataclass
class MachineType:
    """A machine type as the cloud describes it, and how the provider's CloudProfile lists it."""

    provider: Provider
    name: str
    vcpus: int
    memory_mib: int
    gpus: int = 0
    gpu_model: str | None = None
    architecture: str = "amd64"
    absent_in: list[str] = field(default_factory=list)  # regions whose cloud catalogue lacks it
    in_profile: bool = True  # listed in the provider's CloudProfile
    profile_usable: bool = True
    profile_vcpus: int | None = None  # what the CloudProfile says, when it disagrees with the cloud


@dataclass
class Landscape:
    projects: list[Project] = field(default_factory=list)
    seeds: list[Seed] = field(default_factory=list)
    shoots: list[Shoot] = field(default_factory=list)
    bastions: list[Bastion] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)
    # The clouds' catalogues and the CloudProfiles (graphinv/sim/hardware.py serves them).
    machine_types: list[MachineType] = field(default_factory=list)
    name: str = "landscape"
    seed: int = 0  # randomness seed, so ids and addresses are the same on every run

    def instances(self) -> list[tuple[Account, Region, Instance]]:
        return [(a, r, i) for a in self.accounts for r in a.regions for i in r.instances]

    def validate(self) -> None:
        seen: set[str] = set()
        keys: list[str] = []
        for _acct, _region, inst in self.instances():
            keys += [inst.key, *(d.key for d in inst.disks)]
        for acct in self.accounts:
            for region in acct.regions:
                keys += [d.key for d in region.disks] + [ip.key for ip in region.ips]
        for key in keys:
            if key in seen:
                raise LandscapeError(f"key {key!r} is used twice")
            seen.add(key)
        projects = {p.name for p in self.projects}
        seeds = {s.name for s in self.seeds}
        for shoot in self.shoots:
            if shoot.project not in projects:
                raise LandscapeError(f"shoot {shoot.name!r} names unknown project {shoot.project!r}")
            if shoot.seed not in seeds:
                raise LandscapeError(f"shoot {shoot.name!r} names unknown seed {shoot.seed!r}")
            for machine in shoot.machines:
                if machine.vm and machine.vm not in seen:
                    raise LandscapeError(f"machine {machine.name!r} names unknown vm {machine.vm!r}")


def technical_id(project: str, shoot: str) -> str:
    return f"shoot--{project}--{shoot}"


def _build(cls: Any, raw: Any, where: str) -> Any:
    """Turn YAML data into the dataclass `cls`, with errors that name the place."""
    if is_dataclass(cls):
        if not isinstance(raw, dict):
            raise LandscapeError(f"{where}: expected a mapping, got {type(raw).__name__}")
        hints = get_type_hints(cls)
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise LandscapeError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        return cls(**{k: _build(hints[k], v, f"{where}.{k}") for k, v in raw.items()})  # type: ignore[operator]
    origin = get_origin(cls)
    if origin is list:
        if not isinstance(raw, list):
            raise LandscapeError(f"{where}: expected a list")
        (item,) = get_args(cls)
        return [_build(item, v, f"{where}[{i}]") for i, v in enumerate(raw)]
    if origin is dict:
        if not isinstance(raw, dict):
            raise LandscapeError(f"{where}: expected a mapping")
        return {str(k): str(v) for k, v in raw.items()}
    if origin is Literal:
        if raw not in get_args(cls):
            raise LandscapeError(f"{where}: {raw!r} is not one of {', '.join(map(str, get_args(cls)))}")
        return raw
    args = get_args(cls)
    if args and type(None) in args:  # Optional[X]
        if raw is None:
            return None
        inner = [a for a in args if a is not type(None)]
        return _build(inner[0], raw, where)
    if cls is str:
        return str(raw)
    if cls is int and not isinstance(raw, bool):
        return int(raw)
    if cls is bool:
        if not isinstance(raw, bool):
            raise LandscapeError(f"{where}: expected true or false")
        return raw
    return raw


def parse_landscape(data: dict[str, Any]) -> Landscape:
    landscape: Landscape = _build(Landscape, data, "landscape")
    landscape.validate()
    return landscape


def load_landscape(path: str | Path) -> Landscape:
    try:
        data = yaml.load(Path(path).read_text(), Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise LandscapeError(f"{path}: not valid YAML: {exc}") from exc
    return parse_landscape(data or {})


def dump_landscape(landscape: Landscape) -> str:
    """YAML for a landscape, leaving out fields at their defaults so files stay readable."""

    def strip(obj: Any) -> Any:
        if is_dataclass(obj) and not isinstance(obj, type):
            out = {}
            for f in fields(obj):
                value = getattr(obj, f.name)
                if f.default is not MISSING:
                    default: Any = f.default
                elif f.default_factory is not MISSING:
                    default = f.default_factory()
                else:
                    default = MISSING  # required: always written
                if value == default:
                    continue
                out[f.name] = strip(value)
            return out
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items()}
        return obj

    return yaml.dump(strip(landscape), Dumper=_DUMPER, sort_keys=False, width=120)
