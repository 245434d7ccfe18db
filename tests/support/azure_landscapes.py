"""The landscape of the simulated Azure tests, shared by the simulator's own tests and the Azure collector's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphinv.sim.azure import AzureSim
from graphinv.sim.landscape import parse_landscape

SUB_MAIN = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
SUB_FORBIDDEN = "1c2e7582-2c01-4eeb-bfd4-dc0383010601"
SUB_THROTTLED = "2d3f8693-3d12-4ffc-c0e5-ed1494121712"
BLUE = "shoot--dev--blue"

# One subscription with a Gardener shoot (workers, a bastion, a deleted worker's leftovers, a
# CSI volume, a NAT IP) and unrelated VMs in two regions; one forbidden and one throttled
# subscription; an AWS account the Azure simulator must ignore.
LANDSCAPE: dict[str, Any] = {
    "name": "azure-test",
    "seed": 7,
    "projects": [{"name": "dev"}],
    "seeds": [{"name": "az-seed", "provider": "azure", "region": "westeurope"}],
    "shoots": [{"name": "blue", "project": "dev", "seed": "az-seed", "provider": "azure",
                "region": "westeurope", "account": SUB_MAIN}],
    "accounts": [
        {"provider": "azure", "id": SUB_MAIN, "regions": [
            {"name": "westeurope", "zones": ["1", "2", "3"],
             "instances": [
                 {"key": "w1", "name": f"{BLUE}-worker-z2-5d8f7-x2kqp", "shoot": "dev/blue",
                  "type": "Standard_D4s_v3", "zone": "2", "disks": [{"key": "w1-data", "size_gb": 100}]},
                 {"key": "w2", "name": f"{BLUE}-worker-z1-5d8f7-hh9z4", "shoot": "dev/blue",
                  "type": "Standard_D4s_v3", "state": "deallocated"},
                 {"key": "b1", "name": f"{BLUE}-bastion-3f2a1", "shoot": "dev/blue", "role": "bastion",
                  "type": "Standard_B1s", "public_ip": True},
                 {"key": "gone", "name": f"{BLUE}-worker-z1-5d8f7-gone1", "shoot": "dev/blue",
                  "state": "terminated"},
                 {"key": "jump", "name": "jumphost", "type": "Standard_B2s", "state": "stopped",
                  "tags": {"owner": "ops"}},
             ],
             "disks": [
                 {"key": "pv1", "name": "pv-shoot--dev--blue-0f3c", "shoot": "dev/blue", "size_gb": 20,
                  "type": "Premium_LRS"},
                 {"key": "spare", "size_gb": 10, "attached_to": "jump"},
             ],
             "ips": [
                 {"key": "nat", "name": f"{BLUE}-nat-gateway-z1-ip", "shoot": "dev/blue"},
                 {"key": "jump-ip", "attached_to": "jump", "address": "20.1.2.3"},
                 {"key": "leaked", "name": "old-lb-ip", "address": "20.9.9.9"},
             ]},
            {"name": "northeurope", "instances": [{"key": "ne1", "name": "vm-north", "type": "Standard_B1s"}]},
        ]},
        {"provider": "azure", "id": SUB_FORBIDDEN, "access": "forbidden",
         "regions": [{"name": "westeurope", "instances": [{"key": "x1", "name": "hidden"}]}]},
        {"provider": "azure", "id": SUB_THROTTLED, "throttle_times": 2,
         "regions": [{"name": "eastus", "instances": [{"key": "t1", "name": "throttled-vm"}]}]},
        {"provider": "aws", "id": "111111111111",
         "regions": [{"name": "eu-west-1", "instances": [{"key": "aws1", "name": "ec2"}]}]},
    ],
}


def start_sim(workdir: Path, data: dict[str, Any] | None = None, page_size: int = 2) -> AzureSim:
    sim = AzureSim(parse_landscape(data or LANDSCAPE), workdir, page_size=page_size)
    sim.start()
    return sim


def vm_name(key: str) -> str:
    for account in LANDSCAPE["accounts"]:
        for region in account["regions"]:
            for inst in region.get("instances", []):
                if inst["key"] == key:
                    return str(inst["name"])
    raise KeyError(key)
