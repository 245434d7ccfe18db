"""The simulator's faults (landscape `faults:`, graphinv/sim/faults.py) met by the real collectors.

For each fault kind, one scope of every source plays it (an AWS region, a GCP project, an Azure
subscription, an OpenStack region, a seed's Machines) after a complete read of the same landscape:
that scope fails with one clear line, every other scope completes, nothing is swept, and no live
VM of the failing scope becomes an orphan, even once the complete read is too old to count.
"""

from __future__ import annotations

import copy
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from graphinv.collect import CollectionSummary, error_line
from graphinv.commands.collect import collect_into
from graphinv.config import Config
from graphinv.db import Graph
from graphinv.orphans import OrphanFilter, orphan_report
from graphinv.sim.gcp import GcpSim
from graphinv.sim.generate import generate
from graphinv.sim.landscape import Fault, Landscape, LandscapeError, parse_landscape
from graphinv.sim.runtime import SimulatedLandscape
from tests.support.faults import SHORT_TIMEOUTS, Targets, impatient, live_owned, readable_seeds, with_fault
from tests.support.graph import wipe
from tests.support.scopes import running

# What each fault turns into in the collectors' words (any provider's): the error names the cause.
EXPECTED = {
    "http500": r"500|Internal ?Server ?Error|InternalError|internal error",
    "truncated": r"pars|JSON|XML|decode|Expecting|unterminated|Unterminated|incomplete|not well-formed|"
                 r"no element found|syntax",
    "garbage": r"pars|JSON|XML|decode|Expecting|not well-formed|syntax|codec|invalid",
    "html": r"502|Bad Gateway|HTML|html|pars|JSON|XML",
    "reset": r"reset|Connection aborted|closed|RemoteDisconnected|Connection broken|ConnectionError|"
             r"connection",
    "hang": r"time[d ]*out|timeout",
}
LABELS = ("Instance", "Disk", "IP", "Machine")


@pytest.fixture(scope="module")
def landscape() -> Landscape:
    return readable_seeds(generate(scale=0.05, seed=7))


@dataclass
class CompleteRead:
    """The graph after a complete read of the landscape: what every fault run starts from."""

    ids: dict[str, tuple[str, str]]
    known: set[tuple[str, str]]
    report: set[tuple[str, str, str]]


@pytest.fixture(scope="module")
def complete_read(session_graph: Graph, landscape: Landscape,
                  tmp_path_factory: pytest.TempPathFactory) -> CompleteRead:
    """One complete read for all fault kinds (a collection is the slow part of each test). A failed
    run changes nothing a later one depends on: its scopes keep their last complete read."""
    wipe(session_graph)
    with SimulatedLandscape(landscape, tmp_path_factory.mktemp("complete")) as sim:
        ids = sim.resource_ids()
        first = collect(session_graph, sim)
    assert not first.failed, [(r.scope.key, r.error) for r in first.failed]
    return CompleteRead(ids, nodes(session_graph), findings(session_graph))


def collect(graph: Graph, sim: SimulatedLandscape) -> CollectionSummary:
    return collect_into(graph, Config.model_validate({"sections": impatient(sim.config())}), [], show_progress=False)


def nodes(graph: Graph) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for label in LABELS:
        found |= {(label, r["uid"]) for r in graph.run_read(f"MATCH (n:{label}) RETURN n.uid AS uid")}
    return found


def findings(graph: Graph) -> set[tuple[str, str, str]]:
    return {(r["kind"], r["uid"], r["verdict"]) for r in orphan_report(graph, OrphanFilter())}


def target_vm_uids(targets: Targets, ids: dict[str, tuple[str, str]]) -> set[str]:
    instances = [*targets.aws[1].instances, *(i for r in targets.gcp.regions for i in r.instances),
                 *(i for r in targets.azure.regions for i in r.instances), *targets.openstack[1].instances]
    return {ids[i.key][1] for i in live_owned(instances)}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_a_fault_fails_its_scope_alone_and_loses_nothing(session_graph: Graph, complete_read: CompleteRead,
                                                         landscape: Landscape, tmp_path: Path, kind: str) -> None:
    graph, ids = session_graph, complete_read.ids
    broken, targets = with_fault(landscape, Fault(kind=cast(Any, kind), seconds=30))
    prefixes = targets.prefixes()
    between = datetime.now(UTC)
    time.sleep(1.0)  # every read of the second run starts clearly after `between`
    started = time.monotonic()
    with SimulatedLandscape(broken, tmp_path / "faulty") as sim:
        assert sim.resource_ids() == ids
        second = collect(graph, sim)
        played = {name: sum(api.faults.played.values()) for name, api in _fault_plans(sim).items()}
    elapsed = time.monotonic() - started

    # The fault was played by every API, and the run ended (a hang is ended by the read timeout).
    assert all(played.values()), played
    assert elapsed < 120, elapsed
    # Exactly the faulty scopes failed: at least the VM (Machine) read of each, nothing else.
    failed = {r.scope.key: r for r in second.failed}
    # MachineType (the clouds' catalogues) is read once per region and shared by its accounts, so a
    # faulty account's region may fail another account's catalogue scope; machine types are not
    # resources and sweep nothing that could become an orphan.
    elsewhere = {k for k in failed if not k.startswith(tuple(prefixes.values())) and not k.endswith(":MachineType")}
    assert not elsewhere, sorted(elsewhere)
    for source, prefix in prefixes.items():
        main = "Machine" if source == "gardener" else "Instance"
        assert any(k.startswith(prefix) and k.endswith(f":{main}") for k in failed), (source, sorted(failed))
    # One clear line each, naming the cause; no traceback, in the summary and on the graph.
    for key, result in failed.items():
        if not key.startswith(tuple(prefixes.values())):
            continue  # a shared catalogue read, failed by whatever this loaded machine did to it
        error = result.error or ""
        assert "\n" not in error.strip() and "Traceback" not in error and len(error) < 600, (key, error)
        assert re.search(EXPECTED[kind], error), (key, error)
    recorded = graph.run_read("MATCH (c:Collection {status: 'failed'}) RETURN c.scope AS scope, c.error AS error")
    assert {r["scope"] for r in recorded} >= set(failed)
    for row in recorded:
        assert "\n" not in (row["error"] or "").strip() and "Traceback" not in (row["error"] or ""), row
    # Nothing swept, anywhere.
    assert all(not r.swept or not any(r.swept.values()) for r in second.failed)
    assert nodes(graph) == complete_read.known
    # The report is the same while the complete read counts ...
    assert findings(graph) == complete_read.report
    # ... and once it is too old, the failing scopes' live VMs are unverified, never orphans.
    judged_at = datetime.now(UTC)
    strict = judged_at - between - timedelta(seconds=0.5)
    rows = orphan_report(graph, OrphanFilter(max_staleness=strict), now=judged_at)
    orphans = {r["uid"] for r in rows if r["verdict"] == "orphan"}
    live = target_vm_uids(targets, ids)
    assert live and not live & orphans, sorted(live & orphans)


def _fault_plans(sim: SimulatedLandscape) -> dict[str, Any]:
    plans: dict[str, Any] = {}
    for provider, cloud in sim.clouds.items():
        plans[provider] = getattr(cloud, "api", None) if provider == "aws" else cloud
    assert sim.gardener is not None
    plans["gardener"] = sim.gardener.api
    return plans


def test_faults_are_validated_with_their_place() -> None:
    data = {"seeds": [{"name": "s", "provider": "aws", "region": "r", "faults": [{"kind": "explode"}]}]}
    with pytest.raises(LandscapeError, match=r"landscape.seeds\[0\].faults\[0\].kind: 'explode' is not one of"):
        parse_landscape(data)
    with pytest.raises(LandscapeError, match="on_request must be >= 1"):
        parse_landscape({"accounts": [{"provider": "gcp", "id": "p", "faults": [{"kind": "reset", "on_request": 0}]}]})


def test_http500_on_page_n_lets_the_pages_before_it_through(landscape: Landscape, tmp_path: Path) -> None:
    """`on_request: N` counts the pages of each list: page 1 of the instance list is answered, page 2
    (and every retry of it) is a 500, and the scope fails saying so."""
    from collectors.gcp import plan
    variant = copy.deepcopy(landscape)
    account = max((a for a in variant.accounts if a.provider == "gcp"),
                  key=lambda a: sum(len(r.instances) for r in a.regions))
    assert sum(len(r.instances) for r in account.regions) >= 2, "too few VMs for two pages"
    account.faults.append(Fault(kind="http500", on_request=2))
    with running(GcpSim(variant, tmp_path)) as sim:
        section = {**sim.source_config(), "page_size": 1, **SHORT_TIMEOUTS}
        task = next(t for t in plan(section) if t.scope.account == account.id and t.scope.kind == "Instance")
        with pytest.raises(Exception) as failure:
            list(task.fetch())
        pages = [e.status for e in sim.requests if e.path.endswith("/aggregated/instances")]
    assert pages[0] == 200 and len(pages) >= 2 and set(pages[1:]) == {500}, pages
    assert re.search(EXPECTED["http500"], error_line(failure.value)), failure.value
    assert "\n" not in error_line(failure.value)
