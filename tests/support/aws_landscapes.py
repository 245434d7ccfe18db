"""Landscapes for the simulated AWS, shared by its own tests and the AWS collector's."""

from __future__ import annotations

from pathlib import Path

from graphinv.sim.aws import AwsSim
from graphinv.sim.landscape import Landscape, parse_landscape

BASE = "111111111111"
OTHER = "222222222222"


def feature_landscape(seed: int = 11) -> Landscape:
    """Two accounts, three regions, and every kind of EC2 object the collector must get right."""
    nodes = [
        {"key": f"node{i}", "name": f"shoot--dev--alpha-worker-z{i % 2 + 1}-5d8f{i}-x{i}q", "shoot": "dev/alpha",
         "zone": "eu-west-1a" if i % 2 == 0 else "eu-west-1b", "public_ip": i % 3 == 0,
         "disks": [{"key": f"node{i}-data", "size_gb": 20 + i, "type": "gp2"}] if i % 4 == 0 else []}
        for i in range(12)
    ]
    west = {
        "name": "eu-west-1", "zones": ["eu-west-1a", "eu-west-1b"],
        "instances": [
            *nodes,
            {"key": "bastion", "name": "shoot--dev--alpha-ops-bastion", "role": "bastion", "public_ip": True},
            {"key": "stopped", "name": "shoot--dev--gone-worker-z1-aaaaa-bbbbb", "shoot": "dev/gone",
             "state": "stopped", "type": "t3.small"},
            {"key": "ended", "name": "shoot--dev--alpha-worker-z1-ccccc-ddddd", "shoot": "dev/alpha",
             "state": "terminated", "disks": [{"key": "ended-data", "size_gb": 8}]},
            {"key": "plain", "name": "jumphost", "public_ip": True, "tags": {"team": "infra", "cost-center": "42"},
             "created": "2024-02-03T04:05:06+01:00",
             "disks": [{"key": "plain-root", "boot": True, "size_gb": 100, "type": "gp2", "tags": {"backup": "yes"}}]},
        ],
        "disks": [
            {"key": "pv-orphan", "name": "kubernetes-dynamic-pv-1", "shoot": "dev/gone", "size_gb": 10},
            {"key": "scratch", "size_gb": 5, "zone": "eu-west-1b", "type": "io2", "created": "2023-09-10"},
            {"key": "late-data", "size_gb": 30, "attached_to": "node1"},
        ],
        "ips": [
            {"key": "eip-node", "name": "shoot--dev--alpha-eip-natgw-z0", "shoot": "dev/alpha", "attached_to": "node3"},
            {"key": "eip-free", "name": "leaked", "shoot": "dev/gone"},
            {"key": "eip-fixed", "address": "203.0.113.7", "attached_to": "plain"},
        ],
    }
    central = {"name": "eu-central-1", "instances": [
        {"key": "c1", "name": "shoot--dev--beta-pool-z1-11111-22222", "shoot": "dev/beta", "type": "m5.xlarge"},
        {"key": "c2", "name": "lonely", "public_ip": True},
    ], "ips": [{"key": "eip-central"}]}
    other = {"name": "eu-west-1", "zones": ["eu-west-1c"], "instances": [
        {"key": f"o{i}", "name": f"shoot--prod--gamma-w-z1-o{i}aaa-o{i}bbb", "shoot": "prod/gamma"} for i in range(3)
    ], "disks": [{"key": "o-free", "size_gb": 12}], "ips": [{"key": "eip-other", "attached_to": "o1"}]}
    return parse_landscape({
        "name": "aws-features", "seed": seed,
        "projects": [{"name": "dev"}, {"name": "prod"}],
        "seeds": [{"name": "aws-seed", "provider": "aws", "region": "eu-west-1"}],
        "shoots": [
            {"name": n, "project": p, "seed": "aws-seed", "provider": "aws", "region": "eu-west-1", "account": a}
            for p, n, a in (("dev", "alpha", BASE), ("dev", "beta", BASE), ("prod", "gamma", OTHER))
        ],
        "accounts": [
            {"provider": "aws", "id": BASE, "regions": [west, central]},
            {"provider": "aws", "id": OTHER, "regions": [other]},
        ],
    })


def wide_landscape(instances: int, free_disks: int, seed: int = 3) -> Landscape:
    """One region with more instances and volumes than one page holds."""
    zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    return parse_landscape({"seed": seed, "accounts": [{"provider": "aws", "id": BASE, "regions": [{
        "name": "eu-west-1", "zones": zones,
        "instances": [{"key": f"vm{i}", "name": f"vm-{i}", "zone": zones[i % 3], "public_ip": i % 5 == 0}
                      for i in range(instances)],
        "disks": [{"key": f"disk{i}", "size_gb": 1 + i % 7} for i in range(free_disks)],
        "ips": [{"key": f"ip{i}", "attached_to": f"vm{i * 7}" if i % 2 else None} for i in range(instances // 20)],
    }]}]})


def start_sim(landscape: Landscape, tmp: Path, engine: str) -> AwsSim:
    sim = AwsSim(landscape, tmp, engine=engine)  # type: ignore[arg-type]
    sim.start()
    return sim


def fault_landscape() -> Landscape:
    return parse_landscape({"seed": 5, "accounts": [
        {"provider": "aws", "id": BASE, "regions": [
            {"name": "eu-west-1", "instances": [{"key": "w1", "name": "w1"}]},
            {"name": "us-east-1", "access": "forbidden", "instances": [{"key": "u1", "name": "u1"}]},
            {"name": "eu-north-1", "throttle_times": 3, "instances": [{"key": f"n{i}", "name": f"n{i}"}
                                                                     for i in range(4)]},
        ]},
        {"provider": "aws", "id": OTHER, "access": "forbidden", "regions": [{"name": "eu-west-1"}]},
    ]})
