"""A real APScheduler instance with sub-second intervals, collecting into the real Neo4j.

The sources here are test collectors behind the ScopeTask seam (the same contract the cloud
collectors implement): they yield records, block, or raise as each test needs. Nothing is timed:
tests wait on events with generous timeouts and then check what happened, never how fast.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobEvent

from collectors.records import Record
from collectors.scope import Scope, ScopeTask
from graphinv.alerts.catalog import shipped_alerts
from graphinv.alerts.runner import AlertOutcome
from graphinv.alerts.settings import AlertSettings
from graphinv.alerts.sinks import WebhookSink
from graphinv.config import ConfigError, Neo4jConnection, settings_from_mapping
from graphinv.db import Graph
from graphinv.scheduler.collect_job import JobOutcome
from graphinv.scheduler.ordering import CollectionBarrier
from graphinv.scheduler.service import SchedulerService
from graphinv.scheduler.settings import (
    Schedule,
)
from tests.support.one_shoot import AWS_SCOPE, GARDEN_SCOPES, gardener_records, vm
from tests.support.scheduling import WAIT, Outcomes, fast, job
from tests.support.webhooks import Receiver, webhook

AZURE = {"subscriptions": ["00000000-0000-0000-0000-000000000000"]}


# -- helpers -------------------------------------------------------------------------------------
@pytest.fixture
def running() -> Iterator[list[SchedulerService]]:
    """Services a test started; shut down even when the test fails."""
    services: list[SchedulerService] = []
    yield services
    for service in services:
        service.shutdown(timeout=WAIT)


def start(services: list[SchedulerService], service: SchedulerService) -> Outcomes:
    outcomes = Outcomes(service)
    services.append(service)
    service.start(serve_status=False)
    return outcomes


# -- settings ------------------------------------------------------------------------------------
def test_settings_defaults_split_slow_kinds_and_name_bad_keys() -> None:
    sources = {"gardener": {"kubeconfig": "/x"}, "aws": {"region": "eu-west-1"}, "gcp": {"projects": ["p"]}}
    settings = settings_from_mapping({"sources": sources, "scheduler": {"collect": {
        "aws": {"interval": "30m", "kinds": {"Disk": {"cron": "15 */4 * * *"}}},
        "gcp": {"enabled": False},
    }}}).scheduler_settings()
    jobs = {j.id: j for j in settings.jobs}
    assert set(jobs) == {"collect:gardener", "collect:aws", "collect:aws:Disk"}
    assert jobs["collect:gardener"].schedule == Schedule(interval=3600, jitter=60)
    assert jobs["collect:aws"].schedule.interval == 1800 and jobs["collect:aws"].exclude == {"Disk"}
    assert jobs["collect:aws"].wants("Instance") and jobs["collect:aws"].wants("IP")
    assert not jobs["collect:aws"].wants("Disk") and jobs["collect:aws:Disk"].wants("Disk")
    assert jobs["collect:aws:Disk"].schedule.cron == "15 */4 * * *"
    defaults = {j.id: j for j in settings_from_mapping({"sources": {"azure": AZURE}}).scheduler_settings().jobs}
    assert set(defaults) == {"collect:azure", "collect:azure:Disk", "collect:azure:IP"}
    assert defaults["collect:azure:IP"].schedule.interval == 4 * 3600
    cases: list[tuple[dict[str, Any], str]] = [
        ({"scheduler": {"colect": {}}}, "scheduler.colect: unknown key"),
        ({"scheduler": {"collect": {"aws": {"cron": "every hour"}}}}, r"scheduler.collect.aws.cron"),
        ({"scheduler": {"collect": {"aws": {"interval": "1h", "cron": "0 * * * *"}}}}, "exactly one"),
        ({"scheduler": {"collect": {"openstack": {"interval": "1h"}}}}, "without a `sources:` section"),
        ({"scheduler": {"retry": {"attempts": 0}}}, "scheduler.retry.attempts"),
        ({"scheduler": {"metrics": {"port": "x"}}}, "scheduler.metrics.port"),
    ]
    for bad, message in cases:
        with pytest.raises(ConfigError, match=message):
            settings_from_mapping({"sources": sources, **bad})


def test_barrier_waits_for_every_source_once_per_cycle() -> None:
    barrier = CollectionBarrier()
    barrier.add("orphans_aws", ["gardener", "aws"])
    assert barrier.collection_finished("aws") == []
    assert barrier.collection_finished("aws") == []
    assert barrier.collection_finished("gardener") == ["orphans_aws"]
    assert barrier.claim("orphans_aws") and not barrier.claim("orphans_aws")
    assert barrier.collection_finished("gardener") == []  # aws has not been collected again yet
    assert barrier.collection_finished("gcp") == []
    assert barrier.collection_finished("aws") == ["orphans_aws"]


# -- the scheduler running -----------------------------------------------------------------------
def test_a_long_run_is_never_overlapped(graph: Graph, running: list[SchedulerService]) -> None:
    release = threading.Event()
    lock = threading.Lock()
    reading = {"now": 0, "most": 0}

    def planner(source: str) -> list[ScopeTask]:
        def fetch() -> Iterator[Record]:
            with lock:
                reading["now"] += 1
                reading["most"] = max(reading["most"], reading["now"])
            try:
                release.wait(WAIT)  # a run far longer than the 0.1 s interval
                yield vm("i-live", "m1")
            finally:
                with lock:
                    reading["now"] -= 1

        return [ScopeTask(AWS_SCOPE, fetch)]

    service = SchedulerService(graph, fast(job("aws", 0.1)), planner, AlertSettings(), {}, sinks=[])
    skipped = threading.Semaphore(0)

    def on_skip(event: JobEvent) -> None:
        skipped.release()

    service.scheduler.add_listener(on_skip, EVENT_JOB_MAX_INSTANCES)
    outcomes = start(running, service)
    for _ in range(3):  # three due times came while the first run was still reading
        assert skipped.acquire(timeout=WAIT)
    release.set()
    assert outcomes.wait(lambda: len(outcomes.of("collect:aws")) >= 2)
    assert reading["most"] == 1
    assert all(o.status == "complete" for o in outcomes.of("collect:aws"))
    skipped_total = service.metrics.registry.get_sample_value("graphinv_job_skipped_total", {"job": "collect:aws"})
    assert skipped_total is not None and skipped_total >= 3


def test_one_failing_collector_does_not_stop_the_others(graph: Graph, running: list[SchedulerService]) -> None:
    gcp_scope = Scope("gcp", "p1", "global", "Instance")

    def planner(source: str) -> list[ScopeTask]:
        if source == "aws":
            def broken() -> Iterator[Record]:
                raise PermissionError("AccessDenied: not authorized to perform ec2:DescribeInstances")
            return [ScopeTask(AWS_SCOPE, broken)]

        def fine() -> Iterator[Record]:
            yield vm("projects/p1/zones/z/instances/vm1", "vm1")

        return [ScopeTask(gcp_scope, fine)]

    settings = fast(job("aws", 0.2), job("gcp", 0.2), attempts=2, backoff=0.05)
    outcomes = start(running, SchedulerService(graph, settings, planner, AlertSettings(), {}, sinks=[]))
    assert outcomes.wait(lambda: len(outcomes.of("collect:gcp")) >= 3 and len(outcomes.of("collect:aws")) >= 2)
    assert all(o.status == "complete" for o in outcomes.of("collect:gcp"))
    failed: list[JobOutcome] = outcomes.of("collect:aws")
    assert all(o.status == "failed" and o.attempts == 2 and o.delays == [0.05] for o in failed)
    assert failed[0].failed_scopes == [AWS_SCOPE.key]
    # Jobs keep running while we look, so check what a running scope keeps: its last complete read
    # and the error of its last failure.
    status = {r["uid"]: r for r in graph.run_read(
        "MATCH (c:Collection) RETURN c.uid AS uid, c.status AS status, c.error AS error, "
        "c.last_complete_finished AS last_complete")}
    assert status[gcp_scope.key]["last_complete"] is not None
    aws = status[AWS_SCOPE.key]
    assert aws["last_complete"] is None and "AccessDenied" in aws["error"]


def test_failed_scopes_are_retried_with_backoff(graph: Graph, running: list[SchedulerService]) -> None:
    flaky_scope = Scope("aws", "111", "eu-west-1", "Instance")
    steady_scope = Scope("aws", "222", "eu-west-1", "Instance")
    reads: Counter[str] = Counter()
    plans: list[int] = []

    def planner(source: str) -> list[ScopeTask]:
        plans.append(1)

        def flaky() -> Iterator[Record]:
            reads["flaky"] += 1
            if reads["flaky"] <= 2:
                raise ConnectionError("RequestLimitExceeded")
            yield vm("i-flaky", "flaky")

        def steady() -> Iterator[Record]:
            reads["steady"] += 1
            yield vm("i-steady", "steady")

        return [ScopeTask(flaky_scope, flaky), ScopeTask(steady_scope, steady)]

    settings = fast(job("aws", 3600), attempts=4, backoff=0.05)  # runs once, at start
    outcomes = start(running, SchedulerService(graph, settings, planner, AlertSettings(), {}, sinks=[]))
    assert outcomes.wait(lambda: len(outcomes.of("collect:aws")) >= 1)
    outcome: JobOutcome = outcomes.of("collect:aws")[0]
    assert outcome.status == "complete" and outcome.attempts == 3
    assert outcome.delays == [0.05, 0.1]  # exponential: base, then base * 2
    assert reads == {"flaky": 3, "steady": 1}  # only the failed scope was read again
    assert len(plans) == 3  # each retry re-plans (fresh clients and credentials)
    assert {r["status"] for r in graph.run_read("MATCH (c:Collection) RETURN c.status AS status")} == {"complete"}
    metrics = running[0].metrics.registry
    assert metrics.get_sample_value("graphinv_job_retries_total", {"job": "collect:aws"}) == 2
    assert metrics.get_sample_value("graphinv_job_attempts_total", {"job": "collect:aws"}) == 3


def test_orphan_alert_runs_after_both_collections_and_notifies_once(
        graph: Graph, running: list[SchedulerService]) -> None:
    receiver = Receiver()
    try:
        shoots, machines = gardener_records()

        def planner(source: str) -> list[ScopeTask]:
            if source == "gardener":
                return [ScopeTask(GARDEN_SCOPES[0], lambda: iter(shoots)),
                        ScopeTask(GARDEN_SCOPES[1], lambda: iter(machines))]
            return [ScopeTask(AWS_SCOPE, lambda: iter([vm("i-live", "m1"), vm("i-leak1", "leaked")]))]

        sink = webhook(receiver.url)
        alert = shipped_alerts()["orphan_instances_aws"]
        # Gardener is collected less often than AWS: the alert must still wait for it every cycle.
        settings = fast(job("gardener", 0.6), job("aws", 0.2))
        service = SchedulerService(graph, settings, planner, AlertSettings(sinks=(sink,)),
                                   {alert.name: alert}, sinks=[WebhookSink(sink)])
        order: list[str] = []
        service.listeners.append(lambda job_id, outcome: order.append(job_id))
        outcomes = start(running, service)
        alert_job = f"alert:{alert.name}"
        assert outcomes.wait(lambda: len(outcomes.of(alert_job)) >= 3)
        runs: list[AlertOutcome] = outcomes.of(alert_job)
        assert all(r.status == "complete" for r in runs)
        # The first run already saw the machines, so it could call the VM an orphan at once.
        assert runs[0].new == ["i-leak1"] and all(r.new == [] for r in runs[1:])
        assert receiver.keys() == [["i-leak1"]]
        for n, job_id in enumerate(order):  # never more alert runs than finished collections of either source
            if job_id == alert_job:
                seen = Counter(order[:n])  # the k-th alert run needs k finished runs of each source before it
                assert min(seen["collect:gardener"], seen["collect:aws"]) >= seen[alert_job] + 1
    finally:
        receiver.close()


def test_jobs_command_lists_jobs_from_the_config(tmp_path: Path) -> None:
    config = tmp_path / "graphinv.yaml"
    config.write_text(yaml.safe_dump({
        "sources": {"gardener": {"kubeconfig": "/nonexistent"}, "aws": {"region": "eu-west-1"}},
        "scheduler": {"run_at_start": False, "collect": {"aws": {"cron": "0 * * * *", "jitter": 0}}},
    }))
    env = {**os.environ, "GRAPHINV_CONFIG": str(config), "GRAPHINV_NEO4J_URI": "bolt://127.0.0.1:1"}
    command = [sys.executable, "-m", "graphinv.commands.scheduler", "jobs", "--from-config", "-f", "json"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=WAIT, check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {r["id"]: r for r in json.loads(result.stdout)}
    assert {"collect:gardener", "collect:aws", "collect:aws:Disk", "collect:aws:IP", "alert:orphan_instances_aws",
            "alert:collections_failing"} <= set(rows)
    assert "alert:orphan_instances_gcp" not in rows  # gcp is not collected here
    assert rows["collect:aws"]["schedule"].startswith("cron 0 * * * *")
    assert rows["collect:aws"]["next_run"].endswith(":00:00+00:00")
    assert rows["alert:orphan_disks_aws"]["next_run"] == "after aws, gardener are collected"


# -- SIGTERM, in a real `graphinv scheduler start` against the simulated landscape ---------------
def _secrets(value: Any, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            secret_key = any(w in key.lower() for w in ("password", "secret", "token"))
            if isinstance(item, str) and secret_key and len(item) > 5:
                found.add(item)
            else:
                _secrets(item, found)
    elif isinstance(value, list):
        for item in value:
            _secrets(item, found)
    return found


def _readline(stream: Any, timeout: float) -> str:
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else ""


@pytest.mark.slow
def test_sigterm_abandons_the_running_collection_cleanly(graph: Graph, neo4j_connection: Neo4jConnection,
                                                          tmp_path: Path) -> None:
    from graphinv.sim.generate import generate
    from graphinv.sim.runtime import SimulatedLandscape

    with SimulatedLandscape(generate(scale=0.05, seed=7), tmp_path / "sim") as sim:
        sources = sim.config()["sources"]
        config = tmp_path / "graphinv.yaml"
        config.write_text(yaml.safe_dump({
            "sources": sources,
            "scheduler": {"metrics": {"port": 0}, "retry": {"attempts": 1}, "concurrency": 2},
        }))
        env = {**os.environ, "GRAPHINV_CONFIG": str(config), "GRAPHINV_NEO4J_URI": neo4j_connection.uri}
        proc = subprocess.Popen([sys.executable, "-m", "graphinv.commands.scheduler", "start", "--log-format", "json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
        try:
            started = json.loads(_readline(proc.stdout, WAIT) or "{}")
            assert started.get("event") == "started", (proc.poll(), started)
            # Wait until some scope is being read, so the signal lands in the middle of a collection.
            deadline = time.monotonic() + WAIT
            saw_running = False
            while time.monotonic() < deadline and not saw_running:
                saw_running = graph.run_read(
                    "MATCH (c:Collection {status: 'running'}) RETURN count(c) AS n")[0]["n"] > 0
            assert saw_running, "no scope was ever seen being read"
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=WAIT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, stderr[-3000:]
    scopes = graph.run_read("MATCH (c:Collection) RETURN c.uid AS uid, c.status AS status, c.error AS error")
    assert scopes and not [s for s in scopes if s["status"] == "running"], scopes
    # Scopes that were being read or waiting when the signal came were given up, not swept.
    assert [s for s in scopes if s["status"] == "failed" and "shutting down" in (s["error"] or "")], scopes
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert any("stopping" in line["message"] for line in lines)
    assert any(line.get("run_id") and line.get("source") for line in lines)
    leaked = [s for s in _secrets(sources, set()) if s in stderr]
    assert not leaked, "a credential reached the log"
