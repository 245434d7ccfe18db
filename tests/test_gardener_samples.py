"""Upstream Gardener and machine-controller-manager example objects, served unchanged as list items by the
simulator's HTTP layer, read back with the real kubernetes client, and mapped by the collector."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from kubernetes import client, config

from collectors.gardener.mapping import bastion_record, machine_record, project_record, seed_record, shoot_record
from graphinv.sim.gardener_api import (
    BASTIONS,
    GARDEN,
    MACHINES,
    PROJECTS,
    SEEDS,
    SHOOTS,
    GardenerSim,
    ResourceType,
)
from graphinv.sim.landscape import Landscape, Seed

SEED = "sample-seed"
KNOWN = {t.kind: t for t in (PROJECTS, SEEDS, SHOOTS, BASTIONS, MACHINES)}


class _JSONLikeLoader(yaml.SafeLoader):
    """YAML as the API server hands it out: timestamps stay strings (JSON has no date type)."""


_JSONLikeLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def samples(root: Path) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for folder in ("gardener", "machine-controller-manager"):
        for path in sorted((root / folder).glob("*.yaml")):
            for doc in yaml.load_all(path.read_text(), Loader=_JSONLikeLoader):
                if isinstance(doc, dict) and doc.get("kind"):
                    found.append((f"{folder}/{path.name}", doc))
    return found


def rtype_of(obj: dict[str, Any]) -> ResourceType:
    if obj["kind"] in KNOWN and obj["apiVersion"] == KNOWN[obj["kind"]].api_version:
        return KNOWN[obj["kind"]]
    group, _, version = obj["apiVersion"].rpartition("/")
    return ResourceType(group, version, obj["kind"].lower() + "s", obj["kind"],
                        bool((obj.get("metadata") or {}).get("namespace")))


@pytest.fixture
def served(shared_samples: Path, tmp_path: Path) -> Iterator[tuple[GardenerSim, list[tuple[str, dict[str, Any]]]]]:
    objects = samples(shared_samples)
    assert objects, f"no samples under {shared_samples}"
    sim = GardenerSim(Landscape(seeds=[Seed(SEED, "aws", "eu-west-1")]), tmp_path)
    for _name, obj in objects:
        cluster = SEED if obj["apiVersion"].startswith("machine.sapcloud.io/") else GARDEN
        # stamp=False: the object is stored and served exactly as upstream wrote it
        sim.api.apply(cluster, rtype_of(obj), obj, stamp=False)
    sim.start()
    yield sim, objects
    sim.stop()


def read_back(sim: GardenerSim, obj: dict[str, Any]) -> dict[str, Any]:
    rtype = rtype_of(obj)
    on_seed = obj["apiVersion"].startswith("machine.sapcloud.io/")
    kubeconfig = sim.seed_kubeconfigs[SEED] if on_seed else sim.garden_kubeconfig
    api = client.CustomObjectsApi(config.new_client_from_config(config_file=str(kubeconfig)))
    items: list[dict[str, Any]] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"limit": 1, **({"_continue": token} if token else {})}
        body = cast(dict[str, Any], api.list_cluster_custom_object(rtype.group, rtype.version, rtype.plural, **kwargs))
        assert body["kind"] == f"{rtype.kind}List"
        items += body["items"]
        token = body["metadata"].get("continue")
        if not token:
            break
    meta = obj.get("metadata") or {}
    matches = [i for i in items if (i.get("metadata") or {}).get("name") == meta.get("name")
               and ((i.get("metadata") or {}).get("namespace") or "") == (meta.get("namespace") or "")]
    assert len(matches) == 1
    return matches[0]


def test_every_sample_comes_back_unchanged(served: tuple[GardenerSim, list[tuple[str, dict[str, Any]]]]) -> None:
    sim, objects = served
    for name, obj in objects:
        assert read_back(sim, obj) == obj, name


def test_collector_mapping_on_the_samples(served: tuple[GardenerSim, list[tuple[str, dict[str, Any]]]]) -> None:
    sim, objects = served
    mapped = 0
    for name, obj in objects:
        got = read_back(sim, obj)
        meta, spec, status = got["metadata"], got.get("spec") or {}, got.get("status") or {}
        kind = got["kind"]
        if kind not in KNOWN or got["apiVersion"] != KNOWN[kind].api_version:
            continue  # e.g. the seed-side extensions.gardener.cloud Bastion: not read by the collector
        if kind == "Project":
            project = project_record(got)
            assert (project.uid, project.namespace, project.owner) == (
                meta["name"], spec.get("namespace"), spec["owner"]["name"]), name
        elif kind == "Seed":
            seed = seed_record(got)
            assert (seed.name, seed.provider, seed.region) == (
                meta["name"], spec["provider"]["type"], spec["provider"]["region"]), name
        elif kind == "Shoot":
            shoot = shoot_record(got)
            assert shoot.uid == f"{meta['namespace']}/{meta['name']}", name
            assert (shoot.region, shoot.cloud_profile, shoot.purpose) == (
                spec["region"], spec["cloudProfile"]["name"], spec["purpose"]), name
            assert shoot.credentials == spec.get("credentialsBindingName"), name
            assert shoot.workers == [f"{w['name']}:{w['machine']['type']}:{w['minimum']}-{w['maximum']}"
                                     for w in spec["provider"]["workers"]], name
            assert shoot.technical_id is None and shoot.project_ref is None  # a template without status
        elif kind == "Bastion":
            bastion = bastion_record(got)
            assert bastion.shoot_ref == f"{meta['namespace']}/{spec['shootRef']['name']}", name
            assert bastion.seed_name == spec.get("seedName") and bastion.provider == spec.get("providerType"), name
            assert bastion.ingress_ip == (status.get("ingress") or {}).get("ip"), name
        elif kind == "Machine":
            machine = machine_record(got, SEED)
            assert machine.provider_id == spec.get("providerID"), name
            if machine.provider_id:  # aws:///eu-east-1/i-00bef3f2618ffef23 in the MCM docs sample
                assert machine.instance_ref == machine.provider_id.rsplit("/", 1)[-1], name
                assert machine.node_name == meta["labels"]["node"], name
                assert machine.phase == status["currentStatus"]["phase"], name
                assert machine.created is not None, name
            else:
                assert machine.instance_ref is None, name
            assert machine.shoot_ref is None, name  # upstream samples live outside shoot namespaces
        else:
            continue
        mapped += 1
    assert mapped >= 6
