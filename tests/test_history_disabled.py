"""`history.enabled: false` reaches the ingest of every collection path: `graphinv collect`
(collect_into) and the scheduler's collect jobs record no Change, while the same paths with the
section's default do (so the check can fail)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphinv.commands.collect import collect_into
from graphinv.config import settings_from_mapping
from graphinv.db import Graph
from graphinv.history.settings import HistorySettings
from graphinv.scheduler.service import SchedulerService, default_planner
from graphinv.sim.runtime import SimulatedLandscape
from tests.support.history_landscape import base_landscape, planned_edit
from tests.support.scheduling import fast, job


def changes(graph: Graph) -> int:
    return int(graph.run_read("MATCH (c:Change) RETURN count(c) AS n")[0]["n"])


def collect_cli(graph: Graph, sim: SimulatedLandscape, history: dict[str, Any]) -> None:
    cfg = settings_from_mapping({**sim.config(), "history": history})
    summary = collect_into(graph, cfg, [], show_progress=False)
    assert not summary.failed, [(r.scope.key, r.error) for r in summary.failed]


def test_collect_with_history_disabled_records_no_change(graph: Graph, tmp_path: Path) -> None:
    land = base_landscape()
    with SimulatedLandscape(land, tmp_path / "one") as sim:
        collect_cli(graph, sim, {"enabled": False})
    assert graph.run_read("MATCH (i:Instance) RETURN count(i) AS n")[0]["n"] > 0
    with SimulatedLandscape(planned_edit(land), tmp_path / "two") as sim:
        collect_cli(graph, sim, {"enabled": False})  # a VM gone, a disk detached, ... : still nothing
    assert changes(graph) == 0
    with SimulatedLandscape(land, tmp_path / "three") as sim:
        collect_cli(graph, sim, {})  # the default: capture on
    assert changes(graph) > 0


def run_scheduled(graph: Graph, sim: SimulatedLandscape, history: HistorySettings) -> None:
    """One run of the scheduler's collect job for the AWS source, as the scheduler builds it."""
    sources = settings_from_mapping(sim.config()).sources
    service = SchedulerService(graph, fast(job("aws", 3600)), default_planner(sources), history=history)
    outcome = service.collect_jobs["collect:aws"]()
    assert outcome.status == "complete", outcome


def test_scheduled_collection_with_history_disabled_records_no_change(graph: Graph, tmp_path: Path) -> None:
    land = base_landscape()
    with SimulatedLandscape(land, tmp_path / "one") as sim:
        run_scheduled(graph, sim, HistorySettings(enabled=False))
    with SimulatedLandscape(planned_edit(land), tmp_path / "two") as sim:
        run_scheduled(graph, sim, HistorySettings(enabled=False))
    assert graph.run_read("MATCH (i:Instance) RETURN count(i) AS n")[0]["n"] > 0
    assert changes(graph) == 0
    with SimulatedLandscape(land, tmp_path / "three") as sim:
        run_scheduled(graph, sim, HistorySettings())
    assert changes(graph) > 0
