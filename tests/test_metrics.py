"""/metrics scraped over HTTP from a running scheduler must match what ran; logs are JSON and redacted."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from collectors.records import Record
from collectors.scope import Scope, ScopeTask
from graphinv.alerts.catalog import shipped_alerts
from graphinv.alerts.settings import AlertSettings
from graphinv.alerts.sinks import WebhookSink
from graphinv.db import Graph
from graphinv.metrics import Metrics
from graphinv.scheduler.collect_job import JobOutcome
from graphinv.scheduler.logs import configure_logging, log_context, register_secret
from graphinv.scheduler.service import SchedulerService
from graphinv.scheduler.settings import MetricsEndpoint
from tests.support.one_shoot import AWS_SCOPE, GARDEN_SCOPES, gardener_records, vm
from tests.support.scheduling import WAIT, Outcomes, fast, job
from tests.support.webhooks import Receiver, webhook

DISK_SCOPE = Scope("aws", "111", "eu-west-1", "Disk")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    response = httpx.get(f"{url}/metrics", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_metrics_endpoint_matches_what_ran(graph: Graph, receiver: Receiver) -> None:
    shoots, machines = gardener_records()
    aws_runs: list[list[str]] = []

    def planner(source: str) -> list[ScopeTask]:
        if source == "gardener":
            return [ScopeTask(GARDEN_SCOPES[0], lambda: iter(shoots)),
                    ScopeTask(GARDEN_SCOPES[1], lambda: iter(machines))]
        # First run: a live VM and a leaked one; the second: the leaked one is gone (and swept).
        uids = ["i-live", "i-leak1"] if not aws_runs else ["i-live"]
        aws_runs.append(uids)

        def disks() -> Iterator[Record]:
            raise PermissionError("UnauthorizedOperation: ec2:DescribeVolumes")

        return [ScopeTask(AWS_SCOPE, lambda: iter([vm(uid, uid) for uid in uids])), ScopeTask(DISK_SCOPE, disks)]

    settings = dataclasses.replace(fast(job("gardener", 3600), job("aws", 3600)),  # each runs once at start
                                   metrics=MetricsEndpoint(enabled=True, port=0))
    sink = webhook(receiver.url)
    alert = shipped_alerts()["orphan_instances_aws"]
    service = SchedulerService(graph, settings, planner, AlertSettings(sinks=(sink,)), {alert.name: alert},
                               sinks=[WebhookSink(sink)])
    outcomes = Outcomes(service)
    service.start()
    try:
        assert service.status is not None
        url = service.status.url
        alert_job = f"alert:{alert.name}"
        assert outcomes.wait(lambda: len(outcomes.of(alert_job)) == 1)
        # A second AWS run, after the alert, so the alert's numbers stay those of the first cycle.
        service.scheduler.modify_job("collect:aws", next_run_time=datetime.now(UTC))
        assert outcomes.wait(lambda: len(outcomes.of("collect:aws")) == 2)
        samples = scrape(url)

        aws: list[JobOutcome] = outcomes.of("collect:aws")
        assert [o.status for o in aws] == ["failed", "failed"]  # the Disk scope fails every time
        assert value(samples, "graphinv_job_runs_total", job="collect:aws", status="failed") == 2
        assert value(samples, "graphinv_job_runs_total", job="collect:gardener", status="complete") == 1
        assert value(samples, "graphinv_job_duration_seconds_count", job="collect:aws") == 2
        assert value(samples, "graphinv_scope_runs_total", source="aws", kind="Instance", status="complete") == 2
        assert value(samples, "graphinv_scope_runs_total", source="aws", kind="Disk", status="failed") == 2
        assert value(samples, "graphinv_scope_failures_total", source="aws", kind="Disk") == 2
        assert value(samples, "graphinv_scope_failures_total", source="aws", kind="Instance") is None
        assert value(samples, "graphinv_scope_duration_seconds_count", source="aws", kind="Instance") == 2
        assert value(samples, "graphinv_scope_duration_seconds_count", source="gardener", kind="Machine") == 1
        written = sum(len(uids) for uids in aws_runs)
        assert written == 3
        assert value(samples, "graphinv_resources_collected_total", source="aws", kind="Instance") == written
        assert value(samples, "graphinv_resources_collected_total", source="gardener", kind="Machine") == len(machines)
        assert value(samples, "graphinv_resources_swept_total", source="aws", kind="Instance") == 1
        last = value(samples, "graphinv_scope_last_complete_timestamp_seconds", source="aws", scope=AWS_SCOPE.key)
        assert last is not None and last > 0
        assert value(samples, "graphinv_scope_last_complete_timestamp_seconds", source="aws",
                     scope=DISK_SCOPE.key) is None
        assert value(samples, "graphinv_orphans", provider="aws", kind="instance", verdict="orphan") == 1
        assert value(samples, "graphinv_alert_runs_total", alert=alert.name, status="complete") == 1
        assert value(samples, "graphinv_alert_open_findings", alert=alert.name) == 1
        assert value(samples, "graphinv_alert_notifications_total", sink="ops", status="sent") == 1
        assert value(samples, "graphinv_alert_notifications_total", sink="ops", status="failed") is None
        assert receiver.keys() == [["i-leak1"]]

        assert httpx.get(f"{url}/healthz", timeout=30).status_code == 200
        ready = httpx.get(f"{url}/readyz", timeout=30)
        assert ready.status_code == 200 and ready.text.startswith("ready")
        jobs = {row["id"]: row for row in httpx.get(f"{url}/jobs", timeout=30).json()}
        assert jobs["collect:aws"]["last_status"] == "failed" and jobs["collect:gardener"]["last_status"] == "complete"
        assert jobs[alert_job]["schedule"] == "after-collect (aws, gardener)"
        assert httpx.get(f"{url}/nothing", timeout=30).status_code == 404
    finally:
        assert service.shutdown(timeout=WAIT)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/healthz", timeout=5)


def test_each_metrics_object_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.record_scope(AWS_SCOPE, "complete", 1.5, {"Instance": 4}, {"Instance": 1}, finished_at=100.0)
    assert first.registry.get_sample_value("graphinv_resources_collected_total",
                                           {"source": "aws", "kind": "Instance"}) == 4
    assert second.registry.get_sample_value("graphinv_resources_collected_total",
                                            {"source": "aws", "kind": "Instance"}) is None
    assert REGISTRY.get_sample_value("graphinv_resources_collected_total",
                                     {"source": "aws", "kind": "Instance"}) is None
    first.record_orphans("gcp", None, [{"kind": "disk", "verdict": "orphan"}, {"kind": "disk", "verdict": "orphan"},
                                       {"kind": "ip", "verdict": "unverified"}])
    get = first.registry.get_sample_value
    assert get("graphinv_orphans", {"provider": "gcp", "kind": "disk", "verdict": "orphan"}) == 2
    assert get("graphinv_orphans", {"provider": "gcp", "kind": "ip", "verdict": "unverified"}) == 1
    assert get("graphinv_orphans", {"provider": "gcp", "kind": "instance", "verdict": "orphan"}) == 0


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_json_logs_carry_context_and_no_credentials(log_stream: io.StringIO) -> None:
    configure_logging("json", "INFO", stream=log_stream)
    register_secret("https://hooks.example.invalid/services/T1/B1/registeredSecret42")
    log = logging.getLogger("graphinv.test")
    with log_context(job="collect:aws", source="aws", run_id="r-123"):
        with log_context(scope="aws:111:eu-west-1:Instance"):
            log.warning("scope failed: password=hunter2secret, Authorization: Bearer abcdefghijklmnop")
        log.info("posting to https://hooks.example.invalid/services/T1/B1/registeredSecret42 failed")
        try:
            raise RuntimeError("aws_secret_access_key=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY")
        except RuntimeError:
            log.exception("boom")
    log.info("outside")
    text = log_stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["scope"] == "aws:111:eu-west-1:Instance" and lines[0]["run_id"] == "r-123"
    assert lines[0]["level"] == "warning" and lines[0]["source"] == "aws" and lines[0]["job"] == "collect:aws"
    assert "scope" not in lines[1] and lines[1]["run_id"] == "r-123"
    assert "error" in lines[2] and "RuntimeError" in lines[2]["error"]
    assert "run_id" not in lines[3]
    for secret in ("hunter2secret", "abcdefghijklmnop", "registeredSecret42", "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"):
        assert secret not in text


def test_text_logs_are_redacted_too(log_stream: io.StringIO) -> None:
    configure_logging("text", "INFO", stream=log_stream)
    with log_context(job="collect:gcp", run_id="r-9"):
        logging.getLogger("graphinv.test").warning("token=abc123def456ghi")
    text = log_stream.getvalue()
    assert "abc123def456ghi" not in text and "job=collect:gcp" in text and "run_id=r-9" in text
    with pytest.raises(ValueError, match="log format"):
        configure_logging("yaml")
