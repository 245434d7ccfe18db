"""A deterministic, realistic landscape over all four providers, with planted ground truth.

`generate(scale, seed)` builds projects (about 3 shoots each, about 5 machines per shoot), seeds per
provider region, several accounts per provider with 2-3 regions each, worker VMs with their data
disks, and a few percent of planted cases of every kind the orphan rules must tell apart. Each
planted object carries `plant: "<verdict>:<case>: <details>"` (see PLANT_CASES and
docs/landscape.md); everything without `plant` is ordinary and owned.

Scale 1 is about 1.5k cloud resources; scale 100 about 190k (and 50k machines). Only plain
dataclasses are built, so memory grows linearly and nothing is served or written here.
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from graphinv.sim.hardware import catalogue, ensure_gpu_pool, gpu_pool_type
from graphinv.sim.landscape import (
    Account,
    Bastion,
    Disk,
    Instance,
    Landscape,
    Machine,
    Project,
    PublicIP,
    Region,
    Seed,
    Shoot,
    Worker,
)

# case -> verdict graphinv must reach for the planted object
PLANT_CASES: dict[str, str] = {
    "vm-of-live-shoot-without-machine": "orphan",
    "vm-of-gone-shoot": "orphan",
    "disk-of-orphan-vm": "orphan",
    "ip-of-orphan-vm": "orphan",
    "vm-name-collision-twin": "orphan",
    "unattached-disk-of-gone-shoot": "orphan",
    "unattached-reserved-ip": "orphan",
    "bastion-vm": "not-orphan",
    "terminated-vm": "not-orphan",
    "hibernated-shoot": "not-orphan",
    "vm-name-collision-original": "not-orphan",
    "vm-of-machine-without-providerid": "not-orphan",
    "machine-without-providerid": "linked-by-name",
    "machine-providerid-without-vm": "vm-missing",
    "vm-of-unreadable-seed": "unverified",
    "unreadable-seed": "unreadable",
    "expired-seed-credentials": "refresh",
    "unattached-disk-of-live-shoot": "informational",
    "vm-without-cluster-tag": "unowned",
    "bastion-object": "not-orphan",
    "left-behind-bastion": "orphan",
}


def plant(case: str, detail: str) -> str:
    return f"{PLANT_CASES[case]}:{case}: {detail}"


@dataclass(frozen=True)
class ProviderFacts:
    regions: dict[str, list[str]]  # region -> zones
    instance_types: list[str]
    disk_types: list[str]
    bastion_type: str
    share: float  # fraction of shoots on this provider


PROVIDERS: dict[str, ProviderFacts] = {
    "aws": ProviderFacts(
        {"eu-west-1": ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
         "eu-central-1": ["eu-central-1a", "eu-central-1b", "eu-central-1c"],
         "us-east-1": ["us-east-1a", "us-east-1b", "us-east-1d"]},
        ["m5.large", "m5.xlarge", "m6i.large", "m6i.2xlarge", "c5.2xlarge", "r5.xlarge"],
        ["gp3", "gp2"], "t3.nano", 0.35),
    "gcp": ProviderFacts(
        {"europe-west1": ["europe-west1-b", "europe-west1-c", "europe-west1-d"],
         "europe-west4": ["europe-west4-a", "europe-west4-b", "europe-west4-c"],
         "us-central1": ["us-central1-a", "us-central1-b", "us-central1-f"]},
        ["n1-standard-4", "n2-standard-4", "n2-standard-8", "e2-standard-4", "n2-highmem-4"],
        ["pd-balanced", "pd-ssd", "pd-standard"], "e2-micro", 0.25),
    "azure": ProviderFacts(
        {"westeurope": ["1", "2", "3"], "northeurope": ["1", "2", "3"], "eastus": ["1", "2", "3"]},
        ["Standard_D4s_v5", "Standard_D8s_v5", "Standard_E4s_v5", "Standard_F8s_v2"],
        ["Premium_LRS", "StandardSSD_LRS"], "Standard_B1s", 0.25),
    "openstack": ProviderFacts(
        {"eu-de-1": ["eu-de-1a", "eu-de-1b", "eu-de-1d"], "eu-nl-1": ["eu-nl-1a", "eu-nl-1b"]},
        ["g_c4_m16", "g_c8_m32", "g_c16_m64", "m1.large"],
        ["standard", "vmware_ssd"], "g_c1_m2", 0.15),
}

PROJECT_WORDS = ["core", "ml", "web", "data", "iam", "ops", "pay", "srch", "edge", "mon", "ci", "lab", "shop",
                 "auth", "etl", "log"]
SHOOT_WORDS = ["prod", "dev", "stage", "canary", "batch", "api", "infra", "perf", "qa", "demo"]
POOL_WORDS = ["worker", "cpu", "mem", "std"]
UNOWNED_NAMES = ["jenkins", "vpn-gw", "build", "jumpbox", "legacy-db", "sftp"]
_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet Kubernetes uses for generated names
_EPOCH = datetime(2024, 2, 1, tzinfo=UTC)

# Planted cases per shoot (each at least once at any scale).
RATES = {
    "live-orphan": 0.03, "gone-shoot": 0.02, "bastion": 0.02, "terminated": 0.02, "hibernated": 0.03,
    "unreadable": 0.02, "collision": 0.01, "no-providerid": 0.01, "dangling-providerid": 0.01,
    "disk-live": 0.03, "disk-gone": 0.02, "reserved-ip": 0.02, "unowned": 0.01,
}


@dataclass
class _Builder:
    rng: random.Random
    landscape: Landscape
    regions: dict[tuple[str, str, str], Region] = field(default_factory=dict)
    accounts: dict[str, list[Account]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    def key(self, prefix: str) -> str:
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return f"{prefix}-{self.counters[prefix]:06d}"

    def hash5(self) -> str:
        return "".join(self.rng.choice(_HASH_ALPHABET) for _ in range(5))

    def created(self, max_days: int = 540) -> str:
        moment = _EPOCH + timedelta(seconds=self.rng.randrange(max_days * 86400))
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def region(self, provider: str, account: str, region: str) -> Region:
        return self.regions[(provider, account, region)]


def _count(rate: float, total: int) -> int:
    return max(1, round(rate * total))


def _account_id(rng: random.Random, provider: str, index: int) -> str:
    if provider == "aws":
        return str(rng.randrange(10**11, 10**12))
    if provider == "gcp":
        return f"gl-{rng.choice(PROJECT_WORDS)}-prod-{index:02d}"
    if provider == "azure":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return f"p-{rng.choice(PROJECT_WORDS)}-{index:02d}"


def _node_name(b: _Builder, provider: str, region: str, machine: str) -> str | None:
    if provider == "aws":  # AWS nodes are named after their private DNS name
        return f"ip-10-250-{b.rng.randrange(256)}-{b.rng.randrange(1, 255)}.{region}.compute.internal"
    return None  # elsewhere the node is named like the machine


def _vm(b: _Builder, shoot: Shoot, name: str, zone: str, instance_type: str, **extra: object) -> Instance:
    facts = PROVIDERS[shoot.provider]
    inst = Instance(key=b.key("vm"), name=name, zone=zone, type=instance_type,
                    shoot=f"{shoot.project}/{shoot.name}", created=b.created(), **extra)  # type: ignore[arg-type]
    if b.rng.random() < 0.75:  # a persistent volume of the cluster, attached to this node
        inst.disks.append(Disk(key=b.key("disk"), size_gb=b.rng.choice([10, 20, 50, 100]),
                               name=f"pv-{shoot.technical_id}-{uuid.UUID(int=b.rng.getrandbits(128))}",
                               type=b.rng.choice(facts.disk_types), zone=zone,
                               shoot=inst.shoot, created=inst.created))
    return inst


def _infrastructure(b: _Builder, scale: float) -> None:
    per_provider = 2 + int(math.sqrt(scale))
    for provider, facts in PROVIDERS.items():
        b.accounts[provider] = []
        for index in range(per_provider):
            account = Account(provider=provider, id=_account_id(b.rng, provider, index + 1))  # type: ignore[arg-type]
            for region_name, zones in facts.regions.items():
                region = Region(name=region_name, zones=list(zones))
                account.regions.append(region)
                b.regions[(provider, account.id, region_name)] = region
            b.accounts[provider].append(account)
            b.landscape.accounts.append(account)
    seeds_per_region = max(1, round(math.sqrt(scale)))
    for provider, facts in PROVIDERS.items():
        for region_name in facts.regions:
            for index in range(seeds_per_region):
                suffix = f"-{index + 1}" if seeds_per_region > 1 else ""
                b.landscape.seeds.append(Seed(name=f"{provider}-{region_name}{suffix}", provider=provider,  # type: ignore[arg-type]
                                              region=region_name))


def _shoots(b: _Builder, scale: float) -> None:
    n_projects = max(3, round(33 * scale))
    providers = list(PROVIDERS)
    weights = [PROVIDERS[p].share for p in providers]
    seeds_by_region: dict[tuple[str, str], list[Seed]] = {}
    for seed in b.landscape.seeds:
        seeds_by_region.setdefault((seed.provider, seed.region), []).append(seed)
    for p_index in range(n_projects):
        word = PROJECT_WORDS[p_index % len(PROJECT_WORDS)]
        project = Project(name=f"{word}{p_index // len(PROJECT_WORDS) + 1}",
                          owner=f"{word}-owner{p_index}@example.com")
        b.landscape.projects.append(project)
        for s_index in range(b.rng.randint(1, 5)):
            provider = b.rng.choices(providers, weights)[0]
            facts = PROVIDERS[provider]
            region = b.rng.choice(list(facts.regions))
            account = b.rng.choice(b.accounts[provider])
            word = SHOOT_WORDS[s_index % len(SHOOT_WORDS)]
            shoot = Shoot(name=word if s_index < len(SHOOT_WORDS) else f"{word}{s_index}", project=project.name,
                          seed=b.rng.choice(seeds_by_region[(provider, region)]).name,
                          provider=provider, region=region, account=account.id,  # type: ignore[arg-type]
                          cloud_profile=provider, purpose=b.rng.choice(["evaluation", "development", "production"]),
                          created_by=project.owner)
            _workers(b, shoot)
            b.landscape.shoots.append(shoot)


def _workers(b: _Builder, shoot: Shoot) -> None:
    facts = PROVIDERS[shoot.provider]
    zones = facts.regions[shoot.region]
    region = b.region(shoot.provider, shoot.account, shoot.region)
    for pool_name in POOL_WORDS[:b.rng.choice([1, 1, 2])]:
        minimum = b.rng.randint(1, 3)
        worker = Worker(name=pool_name, machine_type=b.rng.choice(facts.instance_types), minimum=minimum,
                        maximum=minimum + b.rng.randint(2, 4),
                        zones=sorted(b.rng.sample(zones, b.rng.randint(1, len(zones)))))
        worker.machine_type = gpu_pool_type(shoot.provider, shoot.technical_id, pool_name) or worker.machine_type
        shoot.workers.append(worker)
        for _ in range(b.rng.randint(minimum, minimum + 3)):
            z_index = b.rng.randrange(len(worker.zones))
            zone = worker.zones[z_index]
            name = f"{shoot.technical_id}-{pool_name}-z{z_index + 1}-{b.hash5()}-{b.hash5()}"
            inst = _vm(b, shoot, name, zone, worker.machine_type)
            region.instances.append(inst)
            shoot.machines.append(Machine(name=name, vm=inst.key,
                                          node=_node_name(b, shoot.provider, shoot.region, name)))


def _sample(b: _Builder, items: list[Shoot], rate: float, total: int) -> list[Shoot]:
    return b.rng.sample(items, min(len(items), _count(rate, total)))


def _plant_cases(b: _Builder) -> None:
    shoots = b.landscape.shoots
    total = len(shoots)
    live = [s for s in shoots if s.machines]

    # Hibernated shoots: their machines and VMs are gone on purpose.
    for shoot in _sample(b, live, RATES["hibernated"], total):
        region = b.region(shoot.provider, shoot.account, shoot.region)
        keys = {m.vm for m in shoot.machines}
        region.instances = [i for i in region.instances if i.key not in keys]
        shoot.machines = []
        shoot.hibernated = True
        shoot.plant = plant("hibernated-shoot", "no machines and no VMs, by intent")
    live = [s for s in shoots if s.machines]

    # Shoots on an unreadable seed: their machines exist but cannot be read.
    for shoot in _sample(b, live, RATES["unreadable"], total):
        name = f"{shoot.provider}-{shoot.region}-restricted"
        if not any(s.name == name for s in b.landscape.seeds):
            b.landscape.seeds.append(Seed(name=name, provider=shoot.provider, region=shoot.region, access="forbidden",
                                          plant=plant("unreadable-seed", "answers 403 to the viewer")))
        shoot.seed = name
        shoot.plant = plant("vm-of-unreadable-seed", f"machines live on unreadable seed {name}")
        region = b.region(shoot.provider, shoot.account, shoot.region)
        keys = {m.vm for m in shoot.machines}
        for inst in region.instances:
            if inst.key in keys:
                inst.plant = plant("vm-of-unreadable-seed", f"its machine is on seed {name}, which cannot be read")
    readable = [s for s in live if not s.seed.endswith("-restricted")]

    # One ordinary seed hands out an expired viewer kubeconfig first.
    expired = next((s for s in b.landscape.seeds if s.provider == "azure" and s.access == "ok"), None)
    if expired is not None:
        expired.access = "expired"
        expired.plant = plant("expired-seed-credentials", "first viewer kubeconfig is refused (401)")

    for shoot in _sample(b, readable, RATES["live-orphan"], total):
        region = b.region(shoot.provider, shoot.account, shoot.region)
        worker = shoot.workers[0]
        name = f"{shoot.technical_id}-{worker.name}-z1-{b.hash5()}-{b.hash5()}"
        inst = _vm(b, shoot, name, worker.zones[0], worker.machine_type,
                   plant=plant("vm-of-live-shoot-without-machine", f"tagged for live shoot {shoot.technical_id}"))
        for disk in inst.disks:
            disk.plant = plant("disk-of-orphan-vm", f"attached only to orphan VM {inst.key}")
        region.instances.append(inst)

    for shoot in _sample(b, readable, RATES["terminated"], total):
        region = b.region(shoot.provider, shoot.account, shoot.region)
        worker = shoot.workers[0]
        name = f"{shoot.technical_id}-{worker.name}-z1-{b.hash5()}-{b.hash5()}"
        inst = _vm(b, shoot, name, worker.zones[0], worker.machine_type, state="terminated",
                   plant=plant("terminated-vm", "terminated; not counted as an orphan"))
        inst.disks = []
        region.instances.append(inst)

    for index, shoot in enumerate(_sample(b, readable, RATES["bastion"], total)):
        region = b.region(shoot.provider, shoot.account, shoot.region)
        bastion_name = f"cli-{b.hash5()}"
        inst = Instance(key=b.key("vm"), name=bastion_vm_name(shoot.provider, shoot.technical_id, bastion_name),
                        zone=shoot.workers[0].zones[0], type=PROVIDERS[shoot.provider].bastion_type,
                        shoot=f"{shoot.project}/{shoot.name}", role="bastion", public_ip=True, created=b.created(),
                        plant=plant("bastion-vm", f"bastion {bastion_name} of shoot {shoot.technical_id}"))
        region.instances.append(inst)
        b.landscape.bastions.append(Bastion(name=bastion_name, project=shoot.project, shoot=shoot.name, vm=inst.key,
                                            plant=plant("bastion-object", f"owns VM {inst.key} (#{index + 1})")))

    _plant_gone_shoots(b, total)
    _plant_machine_cases(b, readable, total)
    _plant_free_resources(b, readable, total)
    _plant_left_behind_bastions(b, readable)


def _plant_left_behind_bastions(b: _Builder, readable: list[Shoot]) -> None:
    """One bastion VM per provider whose Bastion object is gone (Gardener deleted the object but
    not the VM). Planted last and without the random generator, so every other plant stays as it was."""
    for provider in PROVIDERS:
        shoot = next((s for s in readable if s.provider == provider), None)
        if shoot is None:
            continue
        region = b.region(shoot.provider, shoot.account, shoot.region)
        bastion_name = f"cli-{hashlib.sha256(shoot.technical_id.encode()).hexdigest()[:5]}"
        region.instances.append(Instance(
            key=b.key("vm"), name=bastion_vm_name(provider, shoot.technical_id, bastion_name),
            zone=shoot.workers[0].zones[0], type=PROVIDERS[provider].bastion_type,
            shoot=f"{shoot.project}/{shoot.name}", role="bastion", public_ip=True,
            plant=plant("left-behind-bastion", f"VM of {shoot.technical_id}; Bastion {bastion_name} is gone")))


def bastion_vm_name(provider: str, technical_id: str, bastion: str) -> str:
    """The VM name each provider extension's bastion controller chooses (pkg/controller/bastion/
    options.go): AWS `<technical id>-<bastion>-bastion`; GCP, Azure and OpenStack cut
    `<technical id>-<bastion>` to 33 characters and append `-bastion-<first 5 hex of its sha256>`."""
    base = f"{technical_id}-{bastion}"
    if provider == "aws":
        return f"{base}-bastion"
    return f"{base[:33]}-bastion-{hashlib.sha256(base.encode()).hexdigest()[:5]}"


def _plant_gone_shoots(b: _Builder, total: int) -> None:
    for index in range(_count(RATES["gone-shoot"], total)):
        provider = b.rng.choice(list(PROVIDERS))
        facts = PROVIDERS[provider]
        account = b.rng.choice(b.accounts[provider])
        region_name = b.rng.choice(list(facts.regions))
        region = b.region(provider, account.id, region_name)
        project = b.rng.choice(b.landscape.projects).name
        gone = Shoot(name=f"gone{index + 1}", project=project, seed="-", provider=provider,  # type: ignore[arg-type]
                     region=region_name, account=account.id)
        zone = facts.regions[region_name][0]
        for _ in range(b.rng.randint(1, 3)):
            name = f"{gone.technical_id}-worker-z1-{b.hash5()}-{b.hash5()}"
            inst = _vm(b, gone, name, zone, b.rng.choice(facts.instance_types),
                       plant=plant("vm-of-gone-shoot", f"shoot {project}/{gone.name} no longer exists"))
            for disk in inst.disks:
                disk.plant = plant("disk-of-orphan-vm", f"attached only to orphan VM {inst.key}")
            region.instances.append(inst)
            if b.rng.random() < 0.5:
                region.ips.append(PublicIP(key=b.key("ip"), name=f"{gone.technical_id}-ip-{b.hash5()}",
                                           shoot=f"{project}/{gone.name}", attached_to=inst.key, created=b.created(),
                                           plant=plant("ip-of-orphan-vm", f"attached only to orphan VM {inst.key}")))
        if b.rng.random() < 0.7:
            region.disks.append(Disk(key=b.key("disk"), name=f"pv-{gone.technical_id}-{b.hash5()}",
                                     size_gb=b.rng.choice([10, 50]), type=facts.disk_types[0], zone=zone,
                                     shoot=f"{project}/{gone.name}", created=b.created(),
                                     plant=plant("unattached-disk-of-gone-shoot",
                                                 f"shoot {project}/{gone.name} no longer exists")))
    # At least one disk of a gone shoot and one IP of an orphan VM, whatever the dice said.
    if not any(d.plant and "unattached-disk-of-gone-shoot" in d.plant for _a, r in _regions(b) for d in r.disks):
        provider, account_id, region_name = next(iter(b.regions))
        b.region(provider, account_id, region_name).disks.append(
            Disk(key=b.key("disk"), name="pv-shoot--old--gone0-x", shoot="old/gone0", size_gb=20,
                 type=PROVIDERS[provider].disk_types[0], created=b.created(),
                 plant=plant("unattached-disk-of-gone-shoot", "shoot old/gone0 no longer exists")))
    if not any(ip.plant and "ip-of-orphan-vm" in ip.plant for _a, r in _regions(b) for ip in r.ips):
        for _a, region in _regions(b):
            orphan = next((i for i in region.instances if i.plant and "vm-of-gone-shoot" in i.plant), None)
            if orphan is not None:
                region.ips.append(PublicIP(key=b.key("ip"), shoot=orphan.shoot, attached_to=orphan.key,
                                           created=b.created(),
                                           plant=plant("ip-of-orphan-vm", f"attached only to orphan VM {orphan.key}")))
                break


def _regions(b: _Builder) -> Iterator[tuple[Account, Region]]:
    for account in b.landscape.accounts:
        for region in account.regions:
            yield account, region


def _plant_machine_cases(b: _Builder, readable: list[Shoot], total: int) -> None:
    # Same VM name in two accounts: only the providerID tells the machine's VM from its twin.
    multi = [s for s in readable if len(b.accounts[s.provider]) > 1]
    for shoot in _sample(b, multi, RATES["collision"], total):
        region = b.region(shoot.provider, shoot.account, shoot.region)
        machine = shoot.machines[0]
        original = next(i for i in region.instances if i.key == machine.vm)
        other = b.rng.choice([a for a in b.accounts[shoot.provider] if a.id != shoot.account])
        twin = Instance(key=b.key("vm"), name=original.name, zone=original.zone, type=original.type,
                        shoot=original.shoot, created=b.created(),
                        plant=plant("vm-name-collision-twin", f"same name as {original.key} in account {other.id}; "
                                                              f"no machine has its providerID"))
        b.region(shoot.provider, other.id, shoot.region).instances.append(twin)
        if original.plant is None:
            original.plant = plant("vm-name-collision-original", f"its machine names it by providerID; twin {twin.key}")

    # A machine without providerID (not yet reported by the provider): found by name in its cluster.
    for shoot in _sample(b, readable, RATES["no-providerid"], total):
        region = b.region(shoot.provider, shoot.account, shoot.region)
        worker = shoot.workers[0]
        name = f"{shoot.technical_id}-{worker.name}-z1-{b.hash5()}-{b.hash5()}"
        inst = _vm(b, shoot, name, worker.zones[0], worker.machine_type,
                   plant=plant("vm-of-machine-without-providerid", f"machine {name} has no providerID"))
        region.instances.append(inst)
        shoot.machines.append(Machine(name=name, phase="Pending",
                                      plant=plant("machine-without-providerid", f"its VM is {inst.key}")))

    # A machine whose providerID names a VM that does not exist.
    for shoot in _sample(b, readable, RATES["dangling-providerid"], total):
        worker = shoot.workers[0]
        name = f"{shoot.technical_id}-{worker.name}-z1-{b.hash5()}-{b.hash5()}"
        shoot.machines.append(Machine(name=name, provider_id=_dangling_provider_id(b, shoot, name, worker.zones[0]),
                                      phase="Failed", plant=plant("machine-providerid-without-vm", "its VM is gone")))


def _dangling_provider_id(b: _Builder, shoot: Shoot, name: str, zone: str) -> str:
    if shoot.provider == "aws":
        return f"aws:///{zone}/i-0{b.rng.getrandbits(64):016x}"
    if shoot.provider == "gcp":
        return f"gce://{shoot.account}/{zone}/{name}"
    if shoot.provider == "azure":
        return (f"azure:///subscriptions/{shoot.account}/resourceGroups/{shoot.technical_id}/providers/"
                f"Microsoft.Compute/virtualMachines/{name}")
    return f"openstack:///{shoot.region}/{uuid.UUID(int=b.rng.getrandbits(128), version=4)}"


def _plant_free_resources(b: _Builder, readable: list[Shoot], total: int) -> None:
    for shoot in _sample(b, readable, RATES["disk-live"], total):
        facts = PROVIDERS[shoot.provider]
        b.region(shoot.provider, shoot.account, shoot.region).disks.append(
            Disk(key=b.key("disk"), name=f"pv-{shoot.technical_id}-{uuid.UUID(int=b.rng.getrandbits(128))}",
                 size_gb=b.rng.choice([1, 10, 20]), type=facts.disk_types[0], zone=shoot.workers[0].zones[0],
                 shoot=f"{shoot.project}/{shoot.name}", created=b.created(),
                 plant=plant("unattached-disk-of-live-shoot", f"released volume of live shoot {shoot.technical_id}")))
    for shoot in _sample(b, readable, RATES["disk-gone"], total):
        gone = f"{shoot.project}/old{b.hash5()}"
        b.region(shoot.provider, shoot.account, shoot.region).disks.append(
            Disk(key=b.key("disk"), size_gb=b.rng.choice([10, 50]), type=PROVIDERS[shoot.provider].disk_types[0],
                 shoot=gone, created=b.created(),
                 plant=plant("unattached-disk-of-gone-shoot", f"shoot {gone} no longer exists")))
    for shoot in _sample(b, readable, RATES["reserved-ip"], total):
        b.region(shoot.provider, shoot.account, shoot.region).ips.append(
            PublicIP(key=b.key("ip"), name=f"{shoot.technical_id}-reserved-{b.hash5()}",
                     shoot=f"{shoot.project}/{shoot.name}" if b.rng.random() < 0.5 else None, created=b.created(),
                     plant=plant("unattached-reserved-ip", "reserved and attached to nothing")))
    # Ordinary owned addresses: a few node VMs with a reserved egress IP (not orphans).
    for shoot in _sample(b, readable, 0.03, total):
        region = b.region(shoot.provider, shoot.account, shoot.region)
        region.ips.append(PublicIP(key=b.key("ip"), name=f"{shoot.technical_id}-egress",
                                   shoot=f"{shoot.project}/{shoot.name}", attached_to=shoot.machines[0].vm,
                                   created=b.created()))
    # VMs nobody in Gardener owns: no cluster tag at all.
    n_unowned = _count(RATES["unowned"], total)
    for index in range(n_unowned):
        provider = list(PROVIDERS)[index % len(PROVIDERS)]
        facts = PROVIDERS[provider]
        account = b.rng.choice(b.accounts[provider])
        region_name = b.rng.choice(list(facts.regions))
        b.region(provider, account.id, region_name).instances.append(
            Instance(key=b.key("vm"), name=f"{b.rng.choice(UNOWNED_NAMES)}-{index + 1:02d}",
                     zone=facts.regions[region_name][0], type=b.rng.choice(facts.instance_types),
                     tags={"team": b.rng.choice(PROJECT_WORDS)}, created=b.created(),
                     plant=plant("vm-without-cluster-tag", "not created by Gardener")))


def generate(scale: float, seed: int) -> Landscape:
    """The same (scale, seed) always gives the same landscape."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    rng = random.Random(f"graphinv-landscape/{seed}")
    landscape = Landscape(name=f"generated-scale{scale:g}-seed{seed}", seed=seed)
    builder = _Builder(rng, landscape)
    _infrastructure(builder, scale)
    _shoots(builder, scale)
    ensure_gpu_pool(landscape)
    _plant_cases(builder)
    landscape.machine_types = catalogue(landscape, {p: list(f.regions) for p, f in PROVIDERS.items()})
    landscape.validate()
    return landscape


def resource_counts(landscape: Landscape) -> dict[str, int]:
    """What a landscape holds, counting each VM's implicit boot disk."""
    counts = {"projects": len(landscape.projects), "seeds": len(landscape.seeds), "shoots": len(landscape.shoots),
              "machines": sum(len(s.machines) for s in landscape.shoots), "bastions": len(landscape.bastions),
              "instances": 0, "disks": 0, "ips": 0}
    for account in landscape.accounts:
        for region in account.regions:
            counts["instances"] += len(region.instances)
            counts["disks"] += len(region.disks) + sum(1 + len(i.disks) for i in region.instances)
            counts["ips"] += len(region.ips) + sum(1 for i in region.instances if i.public_ip)
    counts["cloud_resources"] = counts["instances"] + counts["disks"] + counts["ips"]
    return counts
