"""The landscape generator: deterministic, valid, realistic, with every planted case present."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import yaml
from typer.testing import CliRunner

from collectors.provider_ids import parse_provider_id
from graphinv.sim.cli import sim_app
from graphinv.sim.generate import PLANT_CASES, PROVIDERS, generate, resource_counts
from graphinv.sim.hardware import GPU_TYPES
from graphinv.sim.landscape import Landscape, dump_landscape, parse_landscape


def plants(landscape: Landscape) -> Iterator[str]:
    groups: list[list[object]] = [list(landscape.projects), list(landscape.seeds), list(landscape.shoots),
                                  list(landscape.bastions)]
    groups += [list(s.machines) for s in landscape.shoots]
    for account in landscape.accounts:
        for region in account.regions:
            groups += [list(region.instances), list(region.disks), list(region.ips)]
            groups += [list(i.disks) for i in region.instances]
    for group in groups:
        for item in group:
            text = getattr(item, "plant", None)
            if text:
                yield text


@pytest.fixture(scope="module")
def small() -> Landscape:
    return generate(1, 42)


def test_same_seed_same_yaml_other_seed_other_yaml() -> None:
    assert dump_landscape(generate(0.5, 7)) == dump_landscape(generate(0.5, 7))
    assert dump_landscape(generate(0.5, 7)) != dump_landscape(generate(0.5, 8))


def test_round_trips_through_the_file_format(small: Landscape) -> None:
    text = dump_landscape(small)
    again = parse_landscape(yaml.safe_load(text))
    assert dump_landscape(again) == text
    again.validate()


def test_every_planted_case_is_present_with_its_verdict(small: Landscape) -> None:
    seen: Counter[str] = Counter()
    for text in plants(small):
        verdict, case, detail = text.split(":", 2)
        assert PLANT_CASES[case] == verdict and detail.strip()
        seen[case] += 1
    assert set(seen) == set(PLANT_CASES)
    # "a few percent": no case dominates the landscape
    instances = len(small.instances())
    assert seen["vm-of-live-shoot-without-machine"] + seen["vm-of-gone-shoot"] < 0.1 * instances


def test_tiny_scales_still_plant_every_case() -> None:
    cases = {text.split(":", 2)[1] for text in plants(generate(0.05, 1))}
    assert cases == set(PLANT_CASES)


def test_scale_one_is_a_small_real_looking_landscape(small: Landscape) -> None:
    counts = resource_counts(small)
    assert 900 <= counts["cloud_resources"] <= 2000
    assert 2.0 <= counts["shoots"] / counts["projects"] <= 4.0
    assert 3.5 <= counts["machines"] / counts["shoots"] <= 6.5
    providers = Counter(a.provider for a in small.accounts)
    assert set(providers) == set(PROVIDERS) and min(providers.values()) >= 2
    for account in small.accounts:
        facts = PROVIDERS[account.provider]
        assert len(account.regions) >= 2
        for region in account.regions:
            assert region.zones == facts.regions[region.name]
            for inst in region.instances:
                assert inst.zone in region.zones
                assert inst.type in (*facts.instance_types, facts.bastion_type, *GPU_TYPES[account.provider])
                assert 1 <= 1 + len(inst.disks) <= 2  # boot disk plus at most one volume


def test_machines_and_vms_agree(small: Landscape) -> None:
    vms = {i.key: (a, r, i) for a, r, i in small.instances()}
    for shoot in small.shoots:
        for machine in shoot.machines:
            assert machine.name.startswith(shoot.technical_id + "-")
            if machine.vm:
                account, region, inst = vms[machine.vm]
                assert (account.provider, account.id, region.name) == (shoot.provider, shoot.account, shoot.region)
                assert inst.name == machine.name and inst.shoot == f"{shoot.project}/{shoot.name}"
            elif machine.provider_id:
                parsed = parse_provider_id(machine.provider_id)
                assert parsed is not None and parsed[0] == shoot.provider
        if shoot.hibernated:
            assert not shoot.machines


def test_unreadable_seed_is_forbidden_and_used(small: Landscape) -> None:
    forbidden = {s.name for s in small.seeds if s.access == "forbidden"}
    assert forbidden and any(s.seed in forbidden for s in small.shoots)
    assert any(s.access == "expired" for s in small.seeds)


@pytest.mark.slow
def test_scale_100_is_hundreds_of_thousands_of_objects() -> None:
    counts = resource_counts(generate(100, 1))
    objects = counts["cloud_resources"] + counts["machines"] + counts["shoots"] + counts["projects"]
    assert objects >= 150_000
    assert counts["machines"] >= 40_000


def test_cli_generate_writes_the_same_yaml() -> None:
    result = CliRunner().invoke(sim_app, ["generate", "--scale", "0.2", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert result.stdout == dump_landscape(generate(0.2, 5))
