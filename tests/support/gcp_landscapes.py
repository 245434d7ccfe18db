"""The landscape of the simulated GCP tests, shared by the simulator's own tests and the GCP collector's."""

from __future__ import annotations

from typing import Any

PROJECT = "graphinv-sim-1"
OTHER = "graphinv-sim-2"
DENIED = "graphinv-denied"
THROTTLED = "graphinv-throttled"


def landscape_data(seed: int = 7) -> dict[str, Any]:
    return {
        "seed": seed,
        "projects": [{"name": "dev"}],
        "seeds": [{"name": "gcp-eu", "provider": "gcp", "region": "europe-west1"}],
        "shoots": [{"name": "app", "project": "dev", "seed": "gcp-eu", "provider": "gcp",
                    "region": "europe-west1", "account": PROJECT}],
        "accounts": [
            {"provider": "gcp", "id": PROJECT, "regions": [
                {"name": "europe-west1", "zones": ["europe-west1-b", "europe-west1-c", "europe-west1-d"],
                 "instances": [
                     {"key": "node-a", "name": "shoot--dev--app-worker-z1-aaaaa-bbbbb", "shoot": "dev/app",
                      "type": "n2-standard-4", "disks": [{"key": "node-a-data", "size_gb": 100}]},
                     {"key": "node-b", "name": "shoot--dev--app-worker-z2-ccccc-ddddd", "shoot": "dev/app",
                      "zone": "europe-west1-c", "type": "n2-standard-4", "state": "pending"},
                     {"key": "bastion", "name": "shoot--dev--app-cli-1234-bastion-0a1b2", "shoot": "dev/app",
                      "role": "bastion", "public_ip": True, "type": "n1-standard-1"},
                     {"key": "stray", "name": "stray-vm", "state": "stopped", "tags": {"team": "x"},
                      "public_ip": True},
                     {"key": "deleted", "name": "deleted-vm", "state": "terminated",
                      "disks": [{"key": "left-behind", "size_gb": 10}]},
                 ],
                 "disks": [
                     {"key": "pv-1", "name": "pv-shoot--dev--app-0001", "shoot": "dev/app", "size_gb": 5},
                     {"key": "extra", "attached_to": "node-b", "size_gb": 30, "type": "pd-ssd"},
                     {"key": "shared", "zone": "europe-west1", "size_gb": 200},
                 ],
                 "ips": [
                     {"key": "static-node", "name": "node-a-ip", "attached_to": "node-a"},
                     {"key": "unused", "name": "unused-ip", "address": "35.1.2.3"},
                     {"key": "lb", "name": "lb-ip", "attached_to": "a1b2c3-rule"},
                     {"key": "of-deleted", "name": "of-deleted-ip", "attached_to": "deleted"},
                 ]},
                {"name": "us-central1", "instances": [{"key": "us-vm", "name": "us-vm"}]},
                {"name": "global", "ips": [{"key": "glb", "name": "global-ip"}]},
            ]},
            {"provider": "gcp", "id": OTHER, "regions": [
                {"name": "asia-east1", "instances": [{"key": f"o{i}", "name": f"other-{i}"} for i in range(7)]}]},
            {"provider": "gcp", "id": DENIED, "access": "forbidden",
             "regions": [{"name": "europe-west3", "instances": [{"key": "secret", "name": "secret"}]}]},
            {"provider": "gcp", "id": THROTTLED, "throttle_times": 2,
             "regions": [{"name": "europe-west4", "instances": [{"key": "t1", "name": "t1"}]}]},
            {"provider": "aws", "id": "111111111111", "regions": [{"name": "eu-west-1"}]},
        ],
    }
