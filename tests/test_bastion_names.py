"""The collector names each Bastion's VM the way the provider extensions do, so the Bastion→VM link
holds for every provider; a VM left behind by a deleted Bastion is planted once per provider."""

from __future__ import annotations

import re

from collectors.gardener.mapping import bastion_record, bastion_vm_name
from graphinv.sim.generate import generate
from graphinv.sim.landscape import PROVIDERS


def test_collector_names_match_the_vms_of_every_provider() -> None:
    landscape = generate(scale=0.3, seed=11)
    vms = {inst.key: inst for _a, _r, inst in landscape.instances()}
    shoots = {(s.project, s.name): s for s in landscape.shoots}
    seen = set()
    for bastion in landscape.bastions:
        shoot = shoots[(bastion.project, bastion.shoot)]
        named = bastion_vm_name(shoot.provider, f"garden-{bastion.project}", bastion.shoot, bastion.name)
        assert bastion.vm is not None and named == vms[bastion.vm].name, (bastion, shoot.provider)
        seen.add(shoot.provider)
    # The left-behind ones cover every provider; their plant names the shoot and the Bastion.
    for account, _region, inst in landscape.instances():
        if inst.plant and ":left-behind-bastion:" in inst.plant:
            found = re.search(r"VM of shoot--(.+?)--(.+?); Bastion (\S+) is gone", inst.plant)
            assert found, inst.plant
            project, shoot_name, bastion_name = found.groups()
            assert bastion_vm_name(account.provider, f"garden-{project}", shoot_name, bastion_name) == inst.name
            seen.add(account.provider)
    assert seen == set(PROVIDERS)


def test_bastion_record_carries_the_vm_name() -> None:
    record = bastion_record({"metadata": {"name": "cli-abcde", "namespace": "garden-core"},
                             "spec": {"shootRef": {"name": "prod"}, "providerType": "aws"},
                             "status": {"ingress": {"ip": "198.51.100.7"}}})
    assert record.vm_name == "shoot--core--prod-cli-abcde-bastion"
    assert record.ingress_ip == "198.51.100.7"
    long = bastion_vm_name("gcp", "garden-averylongprojectname", "averylongshootname", "cli-12345")
    assert long is not None and long.startswith("shoot--averylongprojectname--aver-bastion-") and len(long) == 47
    assert bastion_vm_name("unknown-cloud", "garden-core", "prod", "cli-1") is None


def test_a_left_behind_bastion_vm_is_planted_per_provider() -> None:
    landscape = generate(scale=0.3, seed=11)
    claimed = {b.vm for b in landscape.bastions}
    left = [(a.provider, inst) for a, _r, inst in landscape.instances()
            if inst.role == "bastion" and inst.key not in claimed]
    assert sorted(p for p, _ in left) == sorted(PROVIDERS)
    assert all(inst.plant and inst.plant.startswith("orphan:left-behind-bastion:") for _p, inst in left)
