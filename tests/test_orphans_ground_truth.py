"""The orphan report against the landscape's planted ground truth, for every provider, end to end.

Generated landscapes carry `plant: "<verdict>:<case>: <details>"` on every object the orphan rules
must judge (docs/landscape.md). Here a landscape is served by all simulators, all five sources are
collected into a real Neo4j (in-process and through `graphinv collect`), and the reports are
compared with what the plants say. The expectation is computed from the landscape alone; the
simulators' `resource_ids()` only translate landscape keys into the uids the collectors write.

Also here: a collection in which a cloud region, a subscription and a seed fail after a complete
one deletes nothing of theirs and turns none of their live VMs into orphans, and the failed scopes
are reported as such.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from graphinv.collect import CollectionSummary
from graphinv.commands.collect import STATS_QUERY, collect_into
from graphinv.config import Neo4jConnection, settings_from_mapping
from graphinv.db import Graph
from graphinv.orphans import OrphanFilter, freshness, orphan_report, unowned_report
from graphinv.queries import load_query
from graphinv.sim.aws import OWN_PUBLIC_IP_SUFFIX
from graphinv.sim.gcp import EPHEMERAL_IP_SUFFIX
from graphinv.sim.generate import generate
from graphinv.sim.landscape import PROVIDERS, Disk, Instance, Landscape, PublicIP
from graphinv.sim.runtime import SimulatedLandscape

REPORTED = ("orphan", "unverified", "informational", "unowned")
KIND = {"Instance": "instance", "Disk": "disk", "IP": "ip"}
# Implicit addresses that are an instance's own ephemeral IP: they go with the VM and are never
# listed by any report (docs/ownership.md §4). Azure's and OpenStack's implicit public IPs are real
# resources (a public IP address, a floating IP) and follow their VM like any attached IP.
EPHEMERAL_SUFFIX = {"aws": OWN_PUBLIC_IP_SUFFIX, "gcp": EPHEMERAL_IP_SUFFIX}
Finding = tuple[str, str]  # (kind, uid)


# -- the expectation, from the landscape alone ---------------------------------------------------
def verdict_of(plant: str | None) -> str | None:
    return plant.split(":", 1)[0] if plant else None


@dataclass
class GroundTruth:
    expected: dict[tuple[str, str], set[Finding]] = field(default_factory=dict)  # (provider, verdict)
    not_orphan: dict[str, set[str]] = field(default_factory=dict)  # provider -> uids planted not-orphan
    names: dict[str, str] = field(default_factory=dict)  # uid -> landscape key, for readable failures

    def of(self, provider: str, verdict: str) -> set[Finding]:
        return self.expected.get((provider, verdict), set())


def ground_truth(landscape: Landscape, ids: Mapping[str, Mapping[str, tuple[str, str]]]) -> GroundTruth:
    """Expected findings per provider and verdict: every resource planted with that verdict, plus the
    implicit disks and IPs a simulator made for a planted orphan, unverified or unowned VM, and the
    unplanted disks and IPs attached to an unverified VM (attached only to it, they share its fate;
    ephemeral own addresses excepted)."""
    truth = GroundTruth()
    for provider in PROVIDERS:
        keys = ids.get(provider, {})
        truth.names.update({uid: key for key, (_label, uid) in keys.items()})
        truth.not_orphan[provider] = set()
        planted: dict[str, str | None] = {}
        holder: dict[str, str] = {}  # disk/IP key -> the instance key it is attached to
        for account in (a for a in landscape.accounts if a.provider == provider):
            for region in account.regions:
                for inst in region.instances:
                    planted[inst.key] = inst.plant
                    planted.update({d.key: d.plant for d in inst.disks})
                    holder.update({d.key: inst.key for d in inst.disks})
                planted.update({d.key: d.plant for d in region.disks})
                planted.update({ip.key: ip.plant for ip in region.ips})
                attachable: list[Disk | PublicIP] = [*region.disks, *region.ips]
                holder.update({r.key: r.attached_to for r in attachable if r.attached_to})
        for key, plant in planted.items():
            verdict = verdict_of(plant)
            if verdict is None and verdict_of(planted.get(holder.get(key, ""))) == "unverified":
                verdict = "unverified"  # what hangs only on a VM we cannot judge is not judged either
            if key not in keys:  # not served (a terminated VM on GCP/Azure): nothing may report it
                assert verdict not in REPORTED, f"{provider}: {key} is planted {plant!r} but not served"
                continue
            label, uid = keys[key]
            if verdict in REPORTED:
                truth.expected.setdefault((provider, verdict), set()).add((KIND[label], uid))
            elif verdict == "not-orphan":
                truth.not_orphan[provider].add(uid)
        for key, (label, uid) in keys.items():
            if key in planted:
                continue
            owner = re.split(r"[#/]", key, maxsplit=1)[0]
            assert owner in planted, f"{provider}: implicit resource {key} belongs to no landscape instance"
            verdict = verdict_of(planted[owner])
            ephemeral = provider in EPHEMERAL_SUFFIX and key.endswith(EPHEMERAL_SUFFIX[provider])
            if verdict in ("orphan", "unowned", "unverified") and not ephemeral:
                truth.expected.setdefault((provider, verdict), set()).add((KIND[label], uid))
            elif verdict == "not-orphan":
                truth.not_orphan[provider].add(uid)
    return truth


@dataclass
class MachineTruth:
    links: dict[str, set[str]]  # Machine uid -> the Instance uids it must RUN_ON (exactly)
    vm_missing: set[str]  # machines whose providerID names a VM that does not exist
    by_name: dict[str, str]  # machine without providerID -> its VM uid
    twins: set[str]  # uids of VMs named like another account's node VM


def machine_truth(landscape: Landscape, ids: Mapping[str, tuple[str, str]]) -> MachineTruth:
    unreadable = {s.name for s in landscape.seeds if s.access == "forbidden"}
    truth = MachineTruth({}, set(), {}, set())
    for shoot in landscape.shoots:
        if shoot.seed in unreadable:  # its machines are never read
            continue
        for machine in shoot.machines:
            uid = f"{shoot.seed}/{shoot.technical_id}/{machine.name}"
            if machine.vm:
                truth.links[uid] = {ids[machine.vm][1]}
            elif machine.provider_id:
                truth.links[uid] = set()
                truth.vm_missing.add(uid)
            else:  # linked by name, among the VMs carrying this shoot's cluster marker only
                candidates = [i.key for a, _r, i in landscape.instances()
                              if a.provider == shoot.provider and a.id == shoot.account
                              and i.name == machine.name and i.shoot == f"{shoot.project}/{shoot.name}"]
                assert len(candidates) == 1, f"machine {uid}: landscape has VMs {candidates}"
                truth.links[uid] = {ids[candidates[0]][1]}
                truth.by_name[uid] = ids[candidates[0]][1]
    truth.twins = {ids[i.key][1] for _a, _r, i in landscape.instances()
                   if i.plant and ":vm-name-collision-twin:" in i.plant}
    return truth


# -- what graphinv reports -------------------------------------------------------------------------
def findings(graph: Graph, provider: str) -> tuple[dict[str, set[Finding]], list[dict[str, Any]]]:
    """Verdict -> {(kind, uid)} from the orphan report (with and without informational rows) and the
    unowned report; also the rows, for reasons."""
    plain = orphan_report(graph, OrphanFilter(provider=provider))
    full = orphan_report(graph, OrphanFilter(provider=provider), include_informational=True)
    unowned = unowned_report(graph, OrphanFilter(provider=provider))
    rows = full + unowned
    assert {r["verdict"] for r in plain} <= {"orphan", "unverified"}
    assert {r["provider"] for r in rows} <= {provider}
    extra = [r for r in full if r not in plain]
    assert all(r["verdict"] == "informational" for r in extra), "include_informational added other rows"
    for report in (full, unowned):
        pairs = [(r["kind"], r["uid"]) for r in report]
        assert len(pairs) == len(set(pairs)), f"{provider}: a resource is listed twice"
    got = {verdict: {(r["kind"], r["uid"]) for r in full if r["verdict"] == verdict}
           for verdict in ("orphan", "unverified", "informational")}
    assert {(r["kind"], r["uid"]) for r in extra} == got["informational"]
    got["unowned"] = {(r["kind"], r["uid"]) for r in unowned}
    return got, rows


def readable(truth: GroundTruth, items: Iterable[Finding]) -> list[str]:
    return sorted(f"{kind} {truth.names.get(uid, uid)} ({uid})" for kind, uid in items)


def assert_report_matches(graph: Graph, truth: GroundTruth, landscape: Landscape) -> None:
    unreadable = {s.name for s in landscape.seeds if s.access == "forbidden"}
    for provider in PROVIDERS:
        got, rows = findings(graph, provider)
        planted_here = sum(len(truth.of(provider, v)) for v in REPORTED)
        assert planted_here > 0, f"{provider}: the landscape plants nothing to find (comparison would be empty)"
        for verdict in REPORTED:
            want = truth.of(provider, verdict)
            assert got[verdict] == want, (
                f"{provider} {verdict}: missing {readable(truth, want - got[verdict])}, "
                f"unexpected {readable(truth, got[verdict] - want)}")
        listed = {r["uid"] for r in rows}
        wrongly = listed & truth.not_orphan[provider]
        assert not wrongly, f"{provider}: planted not-orphan but reported: {sorted(truth.names[u] for u in wrongly)}"
        for row in rows:
            if row["verdict"] != "unverified":
                continue
            if row["kind"] == "instance":  # says why: the seed whose machines could not be read
                assert any(seed in row["reason"] for seed in unreadable), row
            else:  # a disk or IP hanging on such a VM says so
                assert "could not be verified" in row["reason"], row


def assert_machines_linked(graph: Graph, landscape: Landscape, ids: Mapping[str, tuple[str, str]]) -> None:
    truth = machine_truth(landscape, ids)
    rows = graph.run_read("MATCH (m:Machine) OPTIONAL MATCH (m)-[:RUNS_ON]->(i:Instance) "
                          "RETURN m.uid AS machine, collect(i.uid) AS vms")
    links = {r["machine"]: set(r["vms"]) for r in rows}
    assert set(links) == set(truth.links), "Machine nodes differ from the readable seeds' machines"
    wrong = {m: (sorted(links[m]), sorted(v)) for m, v in truth.links.items() if links[m] != v}
    assert not wrong, f"machines linked to the wrong VMs (got, want): {dict(list(wrong.items())[:5])}"
    assert truth.by_name and truth.vm_missing and truth.twins, "the landscape lacks a planted machine case"
    for twin in truth.twins:
        assert not graph.run_read("MATCH (m:Machine)-[:RUNS_ON]->(:Instance {uid: $uid}) RETURN m.uid AS m",
                                  {"uid": twin}), f"a machine runs on the name twin {twin}"
    missing = load_query("machines_without_vm").run(graph, seed=None)
    assert {r["machine"] for r in missing} == truth.vm_missing
    assert {r["reason"] for r in missing} == {"providerID points at no collected VM"}


def assert_every_source_collected(graph: Graph, landscape: Landscape,
                                  ids: Mapping[str, Mapping[str, tuple[str, str]]]) -> None:
    counts = {(r["label"], r["provider"]): r["count"] for r in graph.run_read(STATS_QUERY)}
    unreadable = {s.name for s in landscape.seeds if s.access == "forbidden"}
    machines = sum(len(s.machines) for s in landscape.shoots if s.seed not in unreadable)
    assert counts[("Project", "gardener")] == len(landscape.projects)
    assert counts[("Seed", "gardener")] == len(landscape.seeds)
    assert counts[("Shoot", "gardener")] == len(landscape.shoots) > 0
    assert counts[("Machine", "gardener")] == machines > 0
    assert counts[("Bastion", "gardener")] == len(landscape.bastions) > 0
    for provider in PROVIDERS:
        accounts = sum(1 for a in landscape.accounts if a.provider == provider)
        assert counts.get(("CloudAccount", provider)) == accounts > 0, provider
        for label in ("Instance", "Disk", "IP"):
            served = sum(1 for lab, _uid in ids[provider].values() if lab == label)
            assert counts.get((label, provider), 0) == served, f"{provider} {label}"
        assert counts[("Instance", provider)] > 0


def assert_ground_truth(graph: Graph, landscape: Landscape, sim_ids: Mapping[str, Mapping[str, tuple[str, str]]],
                        merged: Mapping[str, tuple[str, str]]) -> None:
    assert_every_source_collected(graph, landscape, sim_ids)
    assert_report_matches(graph, ground_truth(landscape, sim_ids), landscape)
    assert_machines_linked(graph, landscape, merged)
    unreadable = {s.name for s in landscape.seeds if s.access == "forbidden"}
    scopes = {r["scope"]: r for r in freshness(graph, "gardener")}
    for seed in unreadable:  # the failed read is on record, with no complete read ever
        row = scopes[f"gardener:{seed}:global:Machine"]
        assert (row["status"], row["last_complete"]) == ("failed", None) and "403" in row["error"], row


def failed_keys(summary: CollectionSummary) -> set[str]:
    return {r.scope.key for r in summary.failed}


def collect(graph: Graph, sim: SimulatedLandscape) -> CollectionSummary:
    return collect_into(graph, settings_from_mapping(sim.config()), [], show_progress=False)


# -- landscape variants ------------------------------------------------------------------------------
def with_readable_seeds(landscape: Landscape) -> Landscape:
    """The same landscape with its unreadable seeds readable: their shoots' VMs are then owned."""
    variant = copy.deepcopy(landscape)
    for seed in variant.seeds:
        if seed.access == "forbidden":
            seed.access, seed.plant = "ok", None
    for shoot in variant.shoots:
        if shoot.plant and ":vm-of-unreadable-seed:" in shoot.plant:
            shoot.plant = None
    for _a, _r, inst in variant.instances():
        if inst.plant and ":vm-of-unreadable-seed:" in inst.plant:
            inst.plant = "not-orphan:vm-of-readable-seed: its machine is read in this variant"
    return variant


# -- the tests ---------------------------------------------------------------------------------------
def test_ground_truth_collected_in_process(graph: Graph, tmp_path: Path) -> None:
    landscape = generate(scale=0.2, seed=11)
    with SimulatedLandscape(landscape, tmp_path) as sim:
        sim_ids = {p: c.resource_ids() for p, c in sim.clouds.items()}
        merged = sim.resource_ids()
        summary = collect(graph, sim)
    assert set(sim_ids) == set(PROVIDERS)
    assert failed_keys(summary) == {f"gardener:{s.name}:global:Machine"
                                    for s in landscape.seeds if s.access == "forbidden"}
    assert_ground_truth(graph, landscape, sim_ids, merged)


def test_ground_truth_collected_by_the_cli(graph: Graph, neo4j_connection: Neo4jConnection,
                                           tmp_path: Path) -> None:
    landscape = generate(scale=0.05, seed=7)
    unreadable = [s.name for s in landscape.seeds if s.access == "forbidden"]
    assert unreadable
    with SimulatedLandscape(landscape, tmp_path / "sim") as sim:
        sim_ids = {p: c.resource_ids() for p, c in sim.clouds.items()}
        merged = sim.resource_ids()
        path = sim.write_config(tmp_path / "graphinv.yaml")
        config = yaml.safe_load(path.read_text())
        config["neo4j"] = {"uri": neo4j_connection.uri, "user": neo4j_connection.user}
        if neo4j_connection.password:
            config["neo4j"]["password"] = neo4j_connection.password
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHINV_")}
        env["COLUMNS"] = "250"  # one summary line per failed scope, unwrapped
        done = subprocess.run([sys.executable, "-m", "graphinv", "-c", str(path), "collect", "--quiet"],
                              capture_output=True, text=True, env=env, timeout=600, check=False, cwd="/")
    assert done.returncode == 4, done.stdout + done.stderr
    assert f", {len(unreadable)} failed;" in done.stdout, done.stdout
    for seed in unreadable:
        assert f"failed gardener:{seed}:global:Machine" in done.stdout, done.stdout
    assert_ground_truth(graph, landscape, sim_ids, merged)


def _scope_nodes(graph: Graph, keys: Iterable[str]) -> set[tuple[str, str, str]]:
    """(scope, label, uid) of every resource and machine node the scopes own."""
    found: set[tuple[str, str, str]] = set()
    for label in ("Instance", "Disk", "IP", "Machine"):
        rows = graph.run_read(f"MATCH (n:{label}) WHERE n.scope IN $keys RETURN n.scope AS scope, n.uid AS uid",
                              {"keys": list(keys)})
        found |= {(r["scope"], label, r["uid"]) for r in rows}
    return found


def _runs_on(graph: Graph) -> set[tuple[str, str]]:
    return {(r["m"], r["i"]) for r in graph.run_read(
        "MATCH (m:Machine)-[:RUNS_ON]->(i:Instance) RETURN m.uid AS m, i.uid AS i")}


def _secrets(section: Any) -> set[str]:
    """Every credential value in a config section (keys naming a secret, password or token)."""
    found: set[str] = set()
    if isinstance(section, dict):
        for key, value in section.items():
            if isinstance(value, str) and (re.search(r"secret|password", key, re.I) or key.lower() == "token"):
                found.add(value)
            else:
                found |= _secrets(value)
    elif isinstance(section, list):
        for item in section:
            found |= _secrets(item)
    return found


def test_failed_scopes_delete_nothing_and_make_no_orphans(graph: Graph, tmp_path: Path) -> None:
    base = generate(scale=0.05, seed=7)
    everything_readable = with_readable_seeds(base)
    unreadable_seed = next(s.name for s in base.seeds if s.access == "forbidden")

    # In the second run an AWS region holding a planted orphan VM and ordinary owned VMs fails, and
    # so does an Azure subscription with owned VMs (an Azure read is subscription-wide).
    def owned(instances: list[Instance]) -> bool:
        return any(i.plant is None and i.shoot for i in instances)
    aws_account, aws_region = next(
        (a.id, r.name) for a in base.accounts if a.provider == "aws" for r in a.regions
        if owned(r.instances) and any(verdict_of(i.plant) == "orphan" for i in r.instances))
    azure_sub = next(a.id for a in base.accounts
                     if a.provider == "azure" and owned([i for r in a.regions for i in r.instances]))
    failing = {f"aws:{aws_account}:{aws_region}:{kind}" for kind in ("Instance", "Disk", "IP")}
    failing |= {f"azure:{azure_sub}:global:{kind}" for kind in ("Instance", "Disk", "IP", "MachineType")}
    failing.add(f"gardener:{unreadable_seed}:global:Machine")
    # An AWS region's machine-type catalogue is read once and shared by its accounts, so the forbidden
    # account's catalogue scope fails only when no other account read that region first.
    may_fail = {f"aws:{aws_account}:{aws_region}:MachineType"}

    # Run 1: everything readable, so nothing is unverified and the seed's VMs are owned.
    with SimulatedLandscape(everything_readable, tmp_path / "run1") as sim:
        sim_ids = {p: c.resource_ids() for p, c in sim.clouds.items()}
        first = collect(graph, sim)
    assert not first.failed, [(r.scope.key, r.error) for r in first.failed]
    truth = ground_truth(everything_readable, sim_ids)
    before = {p: findings(graph, p)[0] for p in PROVIDERS}
    for provider in PROVIDERS:
        assert before[provider]["orphan"] == truth.of(provider, "orphan"), provider
        assert before[provider]["unverified"] == set(), provider
    nodes_before = _scope_nodes(graph, failing)
    links_before = _runs_on(graph)
    holding = {k for k, _l, _u in nodes_before}
    assert {k for k in failing if k.endswith((":Instance", ":Machine"))} <= holding, "nothing to lose: weak test"
    complete_before = {r["scope"]: r["last_complete"] for r in freshness(graph)}

    # Run 2: the seed is unreadable again, the AWS region and the Azure subscription answer 403.
    broken = copy.deepcopy(base)
    region = next(r for a in broken.accounts if a.id == aws_account for r in a.regions if r.name == aws_region)
    region.access = "forbidden"
    next(a for a in broken.accounts if a.id == azure_sub).access = "forbidden"
    between = datetime.now(UTC)
    time.sleep(1.0)  # every read of run 2 starts clearly after `between`
    with SimulatedLandscape(broken, tmp_path / "run2") as sim:
        assert {p: c.resource_ids() for p, c in sim.clouds.items()} == sim_ids  # the same resources
        secrets = _secrets(sim.config())
        second = collect(graph, sim)
    assert failing <= failed_keys(second) <= failing | may_fail, sorted(failed_keys(second) ^ failing)
    assert all(not r.swept or not any(r.swept.values()) for r in second.failed)

    # Nothing of a failed scope was deleted, and no machine lost its VM.
    assert _scope_nodes(graph, failing) == nodes_before
    assert _runs_on(graph) == links_before

    # With the default staleness the last complete reads still count: the report is unchanged,
    # and in particular no live VM of a failed scope (nor of the unreadable seed) is an orphan.
    for provider in PROVIDERS:
        assert findings(graph, provider)[0] == before[provider], provider

    # Once run 1 is too old to count, what depended on a failed scope is unverified, never orphan.
    # Judged at one fixed moment, so a slow machine cannot slide the window past run 2's reads.
    judged_at = datetime.now(UTC)
    strict = judged_at - between - timedelta(seconds=0.5)
    in_failed = {uid for _k, _l, uid in nodes_before}
    for provider in PROVIDERS:
        rows = orphan_report(graph, OrphanFilter(provider=provider, max_staleness=strict), now=judged_at)
        now_orphan = {(r["kind"], r["uid"]) for r in rows if r["verdict"] == "orphan"}
        now_unverified = {r["uid"]: r for r in rows if r["verdict"] == "unverified"}
        was_orphan = before[provider]["orphan"]
        assert not {uid for _k, uid in now_orphan} & in_failed, provider
        assert now_orphan == {f for f in was_orphan if f[1] not in in_failed}, provider
        assert set(now_unverified) <= in_failed, provider
        for kind, uid in was_orphan:
            if uid in in_failed and kind == "instance":
                assert uid in now_unverified, f"orphan VM {uid} of a failed scope vanished from the report"
                assert "was not read completely and recently" in now_unverified[uid]["reason"], uid

    # Freshness tells the truth: failed now, last complete read still the one of run 1.
    scopes = {r["scope"]: r for r in freshness(graph)}
    for key in failing:
        row = scopes[key]
        assert row["status"] == "failed" and row["last_complete"] == complete_before[key], row
        assert re.search(r"403|AccessDenied|AuthorizationFailed|UnauthorizedOperation|Forbidden",
                         row["error"] or ""), row
        assert not any(secret in (row["error"] or "") for secret in secrets), "a credential leaked into an error"
    assert all(row["status"] == "complete" for key, row in scopes.items() if key not in failing | may_fail)
