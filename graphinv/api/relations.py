"""The edges the API traverses, each as one Cypher pattern from a parent `a` (found by uid) to `n`.

Names follow the model in docs/graph-model.md. A relation is fetched for many parents at once
(`UNWIND $keys`), so a nested field costs one round trip per level of the query, whatever the
number of parents.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Relation:
    name: str
    pattern: str  # `a` is the parent, matched on `key.uid`; `n` the nodes returned

    def batch_query(self) -> str:
        # ORDER BY before collect keeps pages stable; the slice honours each parent's own `first`
        # (LIMIT cannot depend on a row's value); only the asked-for properties travel back.
        return (
            "UNWIND $keys AS key\n"
            f"MATCH {self.pattern}\n"
            "WITH key, n ORDER BY n.uid\n"
            "WITH key, collect(n)[..key.first] AS page\n"
            "RETURN key AS key, [x IN page | [p IN key.props | x[p]]] AS nodes"
        )


def _out(name: str, parent: str, rel: str, child: str) -> Relation:
    return Relation(name, f"(a:{parent} {{uid: key.uid}})-[:{rel}]->(n:{child})")


def _in(name: str, parent: str, rel: str, child: str) -> Relation:
    return Relation(name, f"(n:{child})-[:{rel}]->(a:{parent} {{uid: key.uid}})")


PROJECT_SHOOTS = _out("Project.shoots", "Project", "HAS_SHOOT", "Shoot")
SEED_SHOOTS = _out("Seed.shoots", "Seed", "HOSTS", "Shoot")
SHOOT_PROJECT = _in("Shoot.project", "Shoot", "HAS_SHOOT", "Project")
SHOOT_SEED = _in("Shoot.seed", "Shoot", "HOSTS", "Seed")
SHOOT_MACHINES = _out("Shoot.machines", "Shoot", "HAS_MACHINE", "Machine")
SHOOT_BASTIONS = _out("Shoot.bastions", "Shoot", "HAS_BASTION", "Bastion")
SHOOT_INSTANCES = _out("Shoot.ownedInstances", "Shoot", "OWNS_VM", "Instance")
SHOOT_DISKS = _out("Shoot.ownedDisks", "Shoot", "OWNS_DISK", "Disk")
SHOOT_IPS = _out("Shoot.ownedIps", "Shoot", "OWNS_IP", "IP")
MACHINE_SHOOT = _in("Machine.shoot", "Machine", "HAS_MACHINE", "Shoot")
MACHINE_INSTANCE = _out("Machine.instance", "Machine", "RUNS_ON", "Instance")
BASTION_SHOOT = _in("Bastion.shoot", "Bastion", "HAS_BASTION", "Shoot")
INSTANCE_MACHINE = _in("Instance.machine", "Instance", "RUNS_ON", "Machine")
INSTANCE_SHOOT = _in("Instance.shoot", "Instance", "OWNS_VM", "Shoot")
INSTANCE_ACCOUNT = _in("Instance.account", "Instance", "OWNS", "CloudAccount")
INSTANCE_DISKS = _out("Instance.disks", "Instance", "HAS_DISK", "Disk")
INSTANCE_IPS = _out("Instance.ips", "Instance", "HAS_IP", "IP")
DISK_INSTANCE = _in("Disk.instance", "Disk", "HAS_DISK", "Instance")
DISK_SHOOT = _in("Disk.shoot", "Disk", "OWNS_DISK", "Shoot")
DISK_ACCOUNT = _in("Disk.account", "Disk", "OWNS", "CloudAccount")
IP_INSTANCE = _in("IP.instance", "IP", "HAS_IP", "Instance")
IP_SHOOT = _in("IP.shoot", "IP", "OWNS_IP", "Shoot")
IP_ACCOUNT = _in("IP.account", "IP", "OWNS", "CloudAccount")
ACCOUNT_INSTANCES = _out("CloudAccount.instances", "CloudAccount", "OWNS", "Instance")
ACCOUNT_DISKS = _out("CloudAccount.disks", "CloudAccount", "OWNS", "Disk")
ACCOUNT_IPS = _out("CloudAccount.ips", "CloudAccount", "OWNS", "IP")
