"""The Gardener collector against the simulated garden and seeds (real kubernetes client, real HTTP)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from pydantic import ValidationError

from collectors.gardener import plan
from collectors.gardener.collect import GardenerReadError
from collectors.gardener.collector import GARDEN_KINDS
from collectors.gardener.kube import garden_client
from collectors.gardener.seed_access import SeedAccess
from collectors.gardener.settings import GardenerSettings
from collectors.provider_ids import instance_uid, parse_provider_id
from collectors.records import BastionRecord, MachineRecord, ProjectRecord, SeedRecord, ShootRecord
from graphinv.sim.gardener_api import GardenerAPIOptions, GardenerSim, synthetic_provider_ids
from graphinv.sim.generate import generate
from graphinv.sim.landscape import Landscape
from graphinv.sim.runtime import SimulatedLandscape
from tests.support.scopes import fetch_each as run


@pytest.fixture(scope="module")
def landscape() -> Landscape:
    return generate(0.3, 11)


def start(landscape: Landscape, workdir: Path, **kwargs: Any) -> GardenerSim:
    sim = GardenerSim(landscape, workdir, **kwargs)
    sim.start()
    return sim


@pytest.fixture
def sim(landscape: Landscape, tmp_path: Path) -> Iterator[GardenerSim]:
    simulator = start(landscape, tmp_path)
    yield simulator
    simulator.stop()


def section(sim: GardenerSim, **extra: Any) -> dict[str, Any]:
    return {**sim.source_config(), "page_size": 7, **extra}


def test_every_object_is_read_back(sim: GardenerSim, landscape: Landscape) -> None:
    done, failed = run(plan(section(sim)))
    projects = [r for r in done["gardener:garden:global:Project"] if isinstance(r, ProjectRecord)]
    assert {(p.name, p.namespace) for p in projects} == {(p.name, p.namespace) for p in landscape.projects}
    seeds = [r for r in done["gardener:garden:global:Seed"] if isinstance(r, SeedRecord)]
    assert {(s.name, s.provider, s.region) for s in seeds} == {(s.name, s.provider, s.region) for s in landscape.seeds}

    shoots = {r.uid: r for r in done["gardener:garden:global:Shoot"] if isinstance(r, ShootRecord)}
    assert len(shoots) == len(landscape.shoots)
    for shoot in landscape.shoots:
        record = shoots[f"garden-{shoot.project}/{shoot.name}"]
        assert record.technical_id == shoot.technical_id
        assert (record.seed_name, record.seed_ref, record.project_ref) == (shoot.seed, shoot.seed, shoot.project)
        assert (record.provider, record.region, record.hibernated) == (shoot.provider, shoot.region, shoot.hibernated)
        assert record.created_by == shoot.created_by and record.purpose == shoot.purpose
        assert record.workers == [f"{w.name}:{w.machine_type}:{w.minimum}-{w.maximum}" for w in shoot.workers]
        assert record.created is not None and record.created.tzinfo is not None
    assert any(r.hibernated for r in shoots.values())

    bastions = [r for r in done["gardener:garden:global:Bastion"] if isinstance(r, BastionRecord)]
    assert {(b.name, b.shoot_ref) for b in bastions} == {
        (b.name, f"garden-{b.project}/{b.shoot}") for b in landscape.bastions}

    ids = synthetic_provider_ids(landscape)
    machines = {r.uid: r for key, records in done.items() if key.endswith(":Machine")
                for r in records if isinstance(r, MachineRecord)}
    unreadable = {s.name for s in landscape.seeds if s.access == "forbidden"}
    expected = {f"{s.seed}/{s.technical_id}/{m.name}": (s, m) for s in landscape.shoots for m in s.machines
                if s.seed not in unreadable}
    assert set(machines) == set(expected)
    for uid, (shoot, machine) in expected.items():
        found = machines[uid]
        assert found.shoot_ref == shoot.technical_id and found.phase == machine.phase
        if machine.vm:
            assert found.provider_id == ids[machine.vm]
            assert found.instance_ref == instance_uid(ids[machine.vm]) is not None
            assert found.instance_name_ref is None
        elif machine.provider_id:  # a providerID naming a VM that does not exist
            assert found.instance_ref == instance_uid(machine.provider_id) is not None
        else:  # no providerID: by name within the shoot's cluster
            assert found.instance_ref is None
            assert found.instance_name_ref == f"{shoot.technical_id}/{machine.name}"
    assert any(r.instance_name_ref for r in machines.values())
    assert set(failed) == {f"gardener:{s}:global:Machine" for s in unreadable}


def test_forbidden_seed_fails_only_its_machine_scope(sim: GardenerSim, landscape: Landscape) -> None:
    done, failed = run(plan(section(sim)))
    forbidden = [s.name for s in landscape.seeds if s.access == "forbidden"]
    assert forbidden
    for name in forbidden:
        error = failed[f"gardener:{name}:global:Machine"]
        assert isinstance(error, GardenerReadError) and error.status == 403
        assert sim.api.garden_token not in str(error)
    assert len(done) == len(landscape.seeds) - len(forbidden) + len(GARDEN_KINDS)


def test_expired_seed_kubeconfig_is_refreshed_once(sim: GardenerSim, landscape: Landscape) -> None:
    expired = next(s.name for s in landscape.seeds if s.access == "expired")
    done, _failed = run(plan(section(sim)))
    on_seed = sum(len(s.machines) for s in landscape.shoots if s.seed == expired)
    assert len(done[f"gardener:{expired}:global:Machine"]) == on_seed > 0
    assert sim.api.viewer_requests[expired] == 2
    ordinary = next(s.name for s in landscape.seeds if s.access == "ok")
    assert sim.api.viewer_requests[ordinary] == 1


def test_excluded_seeds_are_skipped_with_a_log_line(sim: GardenerSim, landscape: Landscape,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    excluded = landscape.seeds[0].name
    with caplog.at_level(logging.WARNING, logger="collectors.gardener"):
        tasks = plan(section(sim, excluded_seeds=[excluded]))
    assert f"gardener:{excluded}:global:Machine" not in {t.scope.key for t in tasks}
    garden = [t for t in tasks if t.scope.account == "garden"]
    assert {t.scope.kind for t in garden} == {"Project", "Seed", "Shoot", "Bastion", "CloudProfile"}
    assert len(tasks) - len(garden) == len(landscape.seeds) - 1
    assert any(excluded in rec.getMessage() and "excluded" in rec.getMessage() for rec in caplog.records)
    assert sim.api.viewer_requests[excluded] == 0


def test_falls_back_to_per_namespace_lists(landscape: Landscape, tmp_path: Path) -> None:
    sim = start(landscape, tmp_path, options=GardenerAPIOptions(garden_cluster_wide=False, seed_cluster_wide=False))
    try:
        done, failed = run(plan(section(sim)))
    finally:
        sim.stop()
    assert len(done["gardener:garden:global:Shoot"]) == len(landscape.shoots)
    assert len(done["gardener:garden:global:Bastion"]) == len(landscape.bastions)
    readable = {s.name for s in landscape.seeds if s.access != "forbidden"}
    machines = sum(len(done[f"gardener:{seed}:global:Machine"]) for seed in readable)
    assert machines == sum(len(s.machines) for s in landscape.shoots if s.seed in readable)
    assert set(failed) == {f"gardener:{s.name}:global:Machine" for s in landscape.seeds if s.name not in readable}


def test_a_forbidden_project_namespace_fails_the_shoot_scope(landscape: Landscape, tmp_path: Path) -> None:
    namespace = landscape.projects[0].namespace
    options = GardenerAPIOptions(garden_cluster_wide=False, forbidden_namespaces={namespace})
    sim = start(landscape, tmp_path, options=options)
    try:
        done, failed = run(plan(section(sim)))
    finally:
        sim.stop()
    assert isinstance(failed["gardener:garden:global:Shoot"], GardenerReadError)
    assert namespace in str(failed["gardener:garden:global:Shoot"])
    assert "gardener:garden:global:Project" in done


def test_static_seed_kubeconfigs_need_no_viewer_requests(landscape: Landscape, tmp_path: Path) -> None:
    sim = start(landscape, tmp_path, static_seed_kubeconfigs=True)
    try:
        done, failed = run(plan(section(sim)))
    finally:
        sim.stop()
    assert sum(sim.api.viewer_requests.values()) == 0
    machines = sum(len(v) for k, v in done.items() if k.endswith(":Machine"))
    unreadable = {s.name for s in landscape.seeds if s.access == "forbidden"}
    assert machines == sum(len(s.machines) for s in landscape.shoots if s.seed not in unreadable)
    assert set(failed) == {f"gardener:{s}:global:Machine" for s in unreadable}


def test_token_file_and_server(sim: GardenerSim, tmp_path: Path, landscape: Landscape) -> None:
    token = tmp_path / "token"
    token.write_text(sim.api.garden_token + "\n")
    done, _failed = run(plan({"token_file": str(token), "server": sim.url}))
    assert len(done["gardener:garden:global:Project"]) == len(landscape.projects)


def test_viewer_kubeconfig_is_cached_until_shortly_before_expiry(sim: GardenerSim, landscape: Landscape) -> None:
    now = [1_900_000_000.0]
    sim.api.clock = lambda: now[0]
    settings = GardenerSettings.model_validate({**sim.source_config(), "viewer_expiration_seconds": 600})
    access = SeedAccess(garden_client(settings), settings, clock=lambda: now[0])
    seed = next(s.name for s in landscape.seeds if s.access == "ok")
    first = access.client(seed)
    assert access.client(seed) is first
    now[0] += 600 - 61
    assert access.client(seed) is first
    now[0] += 2  # inside the last minute: replaced before the seed would refuse it
    second = access.client(seed)
    assert second is not first
    assert sim.api.viewer_requests[seed] == 2
    assert client.CustomObjectsApi(second).list_cluster_custom_object("machine.sapcloud.io", "v1alpha1", "machines")


@pytest.mark.parametrize("bad", [
    {}, {"kubeconfig": "a", "in_cluster": True}, {"token_file": "t"}, {"kubeconfig": "k", "page_size": 0},
    {"kubeconfig": "k", "seeds": {"s": {}}}, {"kubeconfig": "k", "surprise": 1},
    {"kubeconfig": "k", "read_timeout": "0s"}, {"kubeconfig": "k", "max_pages": 0},
])
def test_bad_sections_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        GardenerSettings.model_validate(bad)


def test_older_timeout_name_still_reads() -> None:
    settings = GardenerSettings.model_validate({"kubeconfig": "k", "request_timeout": 30, "connect_timeout": "2s"})
    assert settings.request_timeout == (2.0, 30.0)


def test_runtime_starts_every_simulator_and_machines_point_at_their_vms(tmp_path: Path) -> None:
    landscape = generate(0.1, 3)
    with SimulatedLandscape(landscape, tmp_path) as running:
        written = running.write_config(tmp_path / "graphinv.yaml")
        loaded = yaml.safe_load(written.read_text())
        assert set(loaded["sources"]) == {"gardener", "aws", "gcp", "azure", "openstack"}
        assert written.stat().st_mode & 0o077 == 0
        done, failed = run(plan(loaded["sources"]["gardener"]))
    shoots = {s.technical_id: s for s in landscape.shoots}
    machines = [r for k, v in done.items() if k.endswith(":Machine") for r in v if isinstance(r, MachineRecord)]
    assert machines
    for record in machines:
        shoot = shoots[record.namespace]
        parsed = parse_provider_id(record.provider_id)
        if record.provider_id:
            assert parsed is not None and parsed[0] == shoot.provider, record.provider_id
    assert set(failed) == {f"gardener:{s.name}:global:Machine" for s in landscape.seeds if s.access == "forbidden"}
