"""Machine types in the simulated landscape: the hardware of each type, the catalogue the generator
writes into the landscape file, and the upstream shapes the simulated APIs serve them in
(EC2 DescribeInstanceTypes items, a Gardener CloudProfile).

The figures are the public ones for these types (vCPUs, MiB, GPUs); a landscape may override any
of them, and the generator plants one disagreement and one missing region per provider.
"""

from __future__ import annotations

import hashlib
from typing import Any

from graphinv.sim.landscape import Landscape, MachineType

# provider -> type -> (vcpus, memory MiB, gpus, gpu model, architecture)
Spec = tuple[int, int, int, str | None, str]
HARDWARE: dict[str, dict[str, Spec]] = {
    "aws": {"m5.large": (2, 8192, 0, None, "amd64"), "m5.xlarge": (4, 16384, 0, None, "amd64"),
            "m6i.large": (2, 8192, 0, None, "amd64"), "m6i.2xlarge": (8, 32768, 0, None, "amd64"),
            "c5.2xlarge": (8, 16384, 0, None, "amd64"), "r5.xlarge": (4, 32768, 0, None, "amd64"),
            "t3.nano": (2, 512, 0, None, "amd64"), "m6g.large": (2, 8192, 0, None, "arm64"),
            "g5.xlarge": (4, 16384, 1, "A10G", "amd64"), "p3.8xlarge": (32, 249856, 4, "V100", "amd64")},
    "gcp": {"n1-standard-4": (4, 15360, 0, None, "amd64"), "n2-standard-4": (4, 16384, 0, None, "amd64"),
            "n2-standard-8": (8, 32768, 0, None, "amd64"), "e2-standard-4": (4, 16384, 0, None, "amd64"),
            "n2-highmem-4": (4, 32768, 0, None, "amd64"), "e2-micro": (2, 1024, 0, None, "amd64"),
            "a2-highgpu-1g": (12, 87040, 1, "nvidia-tesla-a100", "amd64"),
            "g2-standard-8": (8, 32768, 1, "nvidia-l4", "amd64")},
    "azure": {"Standard_D4s_v5": (4, 16384, 0, None, "amd64"), "Standard_D8s_v5": (8, 32768, 0, None, "amd64"),
              "Standard_E4s_v5": (4, 32768, 0, None, "amd64"), "Standard_F8s_v2": (8, 16384, 0, None, "amd64"),
              "Standard_B1s": (1, 1024, 0, None, "amd64"),
              "Standard_NC6s_v3": (6, 114688, 1, "V100", "amd64"),
              "Standard_NC24ads_A100_v4": (24, 225280, 1, "A100", "amd64")},
    "openstack": {"g_c4_m16": (4, 16384, 0, None, "amd64"), "g_c8_m32": (8, 32768, 0, None, "amd64"),
                  "g_c16_m64": (16, 65536, 0, None, "amd64"), "m1.large": (4, 8192, 0, None, "amd64"),
                  "g_c1_m2": (1, 2048, 0, None, "amd64"), "g_c8_m64_gpu1": (8, 65536, 1, "A30", "amd64")},
}
GPU_TYPES: dict[str, list[str]] = {p: [n for n, spec in types.items() if spec[2]] for p, types in HARDWARE.items()}
GPU_POOL_SHARE = 10  # about one worker pool in this many runs on a GPU type


def gpu_pool_type(provider: str, technical_id: str, pool: str) -> str | None:
    """The GPU type a generated pool runs on, for about one pool in GPU_POOL_SHARE (decided by a hash,
    so the generator's random sequence, and every other generated fact, stays as it was)."""
    digest = hashlib.sha256(f"gpu/{technical_id}/{pool}".encode()).digest()
    if digest[0] % GPU_POOL_SHARE or not GPU_TYPES.get(provider):
        return None
    types = GPU_TYPES[provider]
    return types[digest[1] % len(types)]


def ensure_gpu_pool(landscape: Landscape) -> None:
    """At least one worker pool of a generated landscape runs on a GPU type, however small it is: the
    first pool of the first shoot whose provider has GPU types, with its VMs (a type every region offers)."""
    if any(w.machine_type in GPU_TYPES.get(s.provider, []) for s in landscape.shoots for w in s.workers):
        return
    shoot = next((s for s in landscape.shoots if s.workers and GPU_TYPES.get(s.provider)), None)
    if shoot is None:
        return
    worker = shoot.workers[0]
    worker.machine_type = GPU_TYPES[shoot.provider][-1]
    prefix = f"{shoot.technical_id}-{worker.name}-"
    for _account, _region, inst in landscape.instances():
        if inst.shoot == f"{shoot.project}/{shoot.name}" and inst.name.startswith(prefix):
            inst.type = worker.machine_type


def catalogue(landscape: Landscape, regions: dict[str, list[str]]) -> list[MachineType]:
    """Every known type of each provider in the landscape. Planted per provider: its first GPU type
    is missing from the last region's catalogue, and its first type's vCPU count in the
    CloudProfile disagrees with the cloud's."""
    providers = sorted({a.provider for a in landscape.accounts} | {s.provider for s in landscape.shoots})
    out: list[MachineType] = []
    for provider in providers:
        for index, (name, (vcpus, memory, gpus, model, arch)) in enumerate(HARDWARE.get(provider, {}).items()):
            entry = MachineType(provider=provider, name=name, vcpus=vcpus, memory_mib=memory,
                                gpus=gpus, gpu_model=model, architecture=arch)
            if GPU_TYPES[provider] and name == GPU_TYPES[provider][0] and regions.get(provider):
                entry.absent_in = [sorted(regions[provider])[-1]]
            if index == 0:
                entry.profile_vcpus = vcpus * 2
            out.append(entry)
    return out


def types_of(landscape: Landscape, provider: str) -> list[MachineType]:
    return [t for t in landscape.machine_types if t.provider == provider]


def offered(landscape: Landscape, provider: str, region: str) -> list[MachineType]:
    """The types the cloud's catalogue lists in `region`."""
    return [t for t in types_of(landscape, provider) if region not in t.absent_in]


def ec2_instance_type(t: MachineType) -> dict[str, Any]:
    """One DescribeInstanceTypes item, in the API's (boto3's) shape."""
    item: dict[str, Any] = {
        "InstanceType": t.name, "CurrentGeneration": True, "BareMetal": False, "Hypervisor": "nitro",
        "SupportedUsageClasses": ["on-demand", "spot"],
        "ProcessorInfo": {"SupportedArchitectures": ["arm64" if t.architecture == "arm64" else "x86_64"]},
        "VCpuInfo": {"DefaultVCpus": t.vcpus, "DefaultCores": max(1, t.vcpus // 2), "DefaultThreadsPerCore": 2},
        "MemoryInfo": {"SizeInMiB": t.memory_mib},
    }
    if t.gpus:
        item["GpuInfo"] = {"Gpus": [{"Name": t.gpu_model, "Manufacturer": "NVIDIA", "Count": t.gpus,
                                     "MemoryInfo": {"SizeInMiB": 24576}}],
                           "TotalGpuMemoryInMiB": 24576 * t.gpus}
    return item


def gce_machine_type(t: MachineType, project: str, zone: str) -> dict[str, Any]:
    """One Compute Engine machineType of a zone, in the API's JSON shape."""
    item: dict[str, Any] = {
        "kind": "compute#machineType", "id": str(int(hashlib.sha256(t.name.encode()).hexdigest()[:12], 16)),
        "name": t.name, "description": f"{t.vcpus} vCPUs, {t.memory_mib / 1024:g} GB RAM",
        "guestCpus": t.vcpus, "memoryMb": t.memory_mib, "zone": zone, "isSharedCpu": False,
        "maximumPersistentDisks": 128, "maximumPersistentDisksSizeGb": "263168",
        "architecture": "ARM64" if t.architecture == "arm64" else "X86_64",
        "selfLink": f"https://compute.googleapis.com/compute/v1/projects/{project}/zones/{zone}/machineTypes/{t.name}",
    }
    if t.gpus:
        item["accelerators"] = [{"guestAcceleratorType": t.gpu_model, "guestAcceleratorCount": t.gpus}]
    return item


def nova_flavor(t: MachineType, base: str) -> dict[str, Any]:
    """One Nova flavor with its extra_specs (microversion 2.61 and later); a GPU flavor asks for
    PCI passthrough of `<model>:<count>`, as operators configure GPU flavors."""
    specs = {"hw:cpu_policy": "shared"}
    if t.gpus:
        specs["pci_passthrough:alias"] = f"{t.gpu_model}:{t.gpus}"
    if t.architecture == "arm64":
        specs["hw_architecture"] = "aarch64"
    return {"id": t.name, "name": t.name, "vcpus": t.vcpus, "ram": t.memory_mib, "disk": 0, "swap": 0,
            "OS-FLV-EXT-DATA:ephemeral": 0, "OS-FLV-DISABLED:disabled": False, "os-flavor-access:is_public": True,
            "rxtx_factor": 1.0, "description": None, "extra_specs": specs,
            "links": [{"rel": "self", "href": f"{base}/flavors/{t.name}"}]}


def azure_sku(t: MachineType, location: str) -> dict[str, Any]:
    """One resource SKU of a location (Microsoft.Compute/skus), in the API's shape."""
    capabilities = {"vCPUs": str(t.vcpus), "vCPUsAvailable": str(t.vcpus), "MemoryGB": f"{t.memory_mib / 1024:g}",
                    "CpuArchitectureType": "Arm64" if t.architecture == "arm64" else "x64",
                    "HyperVGenerations": "V1,V2", "MaxDataDiskCount": "16", "PremiumIO": "True"}
    if t.gpus:
        capabilities["GPUs"] = str(t.gpus)
    family = t.name.split("_")[1] if "_" in t.name else t.name
    return {"resourceType": "virtualMachines", "name": t.name, "tier": "Standard", "size": t.name.split("_", 1)[-1],
            "family": f"standard{family}Family", "locations": [location],
            "locationInfo": [{"location": location, "zones": ["1", "2", "3"], "zoneDetails": []}],
            "capabilities": [{"name": k, "value": v} for k, v in capabilities.items()], "restrictions": []}


def cloud_profile(landscape: Landscape, provider: str, regions: list[str]) -> dict[str, Any]:
    """The provider's CloudProfile (core.gardener.cloud/v1beta1), named like the provider."""
    machine_types = []
    for t in types_of(landscape, provider):
        if not t.in_profile:
            continue
        entry: dict[str, Any] = {"name": t.name, "cpu": str(t.profile_vcpus or t.vcpus),
                                 "gpu": str(t.gpus), "memory": f"{t.memory_mib}Mi",
                                 "usable": t.profile_usable, "architecture": t.architecture}
        machine_types.append(entry)
    volume_types = {"aws": ["gp3", "gp2"], "gcp": ["pd-balanced", "pd-ssd"], "azure": ["Premium_LRS"],
                    "openstack": ["standard"]}.get(provider, [])
    return {
        "apiVersion": "core.gardener.cloud/v1beta1", "kind": "CloudProfile",
        "metadata": {"name": provider},
        "spec": {
            "type": provider,
            "kubernetes": {"versions": [{"version": "1.31.1"}]},
            "machineImages": [{"name": "gardenlinux", "versions": [{"version": "1592.4.0"}]}],
            "machineTypes": machine_types,
            "volumeTypes": [{"name": v, "class": "standard", "usable": True} for v in volume_types],
            "regions": [{"name": r} for r in sorted(regions)],
        },
    }
