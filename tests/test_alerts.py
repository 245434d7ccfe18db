"""Alert scripts against the real Neo4j: findings recorded once, new ones announced once, sinks retried.

Notifications go to a real HTTP receiver on 127.0.0.1 (below), never to a patched client.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from graphinv.alerts.catalog import load_alerts, shipped_alerts
from graphinv.alerts.definition import AlertDefinition, AlertError, Threshold, parse_alert
from graphinv.alerts.delivery import deliver
from graphinv.alerts.runner import AlertRunner
from graphinv.alerts.settings import AlertSettings, SinkSettings
from graphinv.alerts.sinks import Notification, SlackSink, WebhookSink
from graphinv.alerts.store import AlertStore
from graphinv.config import ConfigError, Neo4jConnection, settings_from_mapping
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema
from graphinv.metrics import Metrics
from graphinv.scheduler.backoff import Backoff
from graphinv.scheduler.logs import configure_logging
from tests.support.one_shoot import AWS_SCOPE, GARDEN_SCOPES, gardener_records, vm
from tests.support.webhooks import SECRET_PATH, Receiver, webhook


@pytest.fixture
def schema(graph: Graph) -> Graph:
    """The graph with graphinv's and the alerts' constraints and indexes (installing them is slow-ish)."""
    install_schema(graph)
    AlertStore(graph).ensure_schema()
    return graph


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


# -- a small landscape ---------------------------------------------------------------------------
def write_landscape(graph: Graph, leaked: Sequence[str], fail_aws: bool = False) -> None:
    """Gardener with one machine on i-live, and AWS VMs: i-live plus the leaked ones (no machine)."""
    ingest = Ingest(graph)
    shoots, machines = gardener_records()
    with ingest.scope(GARDEN_SCOPES[0]) as run:
        run.write(shoots)
    with ingest.scope(GARDEN_SCOPES[1]) as run:
        run.write(machines)
    run = ingest.scope(AWS_SCOPE)
    run.write([vm("i-live", "m1"), *(vm(uid, f"leak-{uid}") for uid in leaked)])
    if fail_aws:
        run.fail("AccessDenied (simulated in the test)")
        # ...and it has been failing for a day: its last complete read proves nothing any more.
        graph.run_write("MATCH (c:Collection {uid: $key}) SET c.last_complete_started = datetime() - duration('P1D')",
                        {"key": AWS_SCOPE.key})
    else:
        run.complete()


def settings(*sinks: SinkSettings, attempts: int = 3, notify_resolved: bool = False) -> AlertSettings:
    return AlertSettings(sinks=sinks, retry=Backoff(attempts=attempts, base=0.01, maximum=0.05),
                         notify_resolved=notify_resolved)


ORPHAN_ALERT = "orphan_instances_aws"


# -- definitions ---------------------------------------------------------------------------------
def test_alert_header_is_parsed_and_checked() -> None:
    alert = parse_alert(
        "// name: big\n// description: many VMs,\n//   per account.\n// severity: critical\n// schedule: 15m\n"
        "// threshold: vms >= 2\n// key: account\n// params: min=2, label=x\n// sinks: ops\n"
        "MATCH (i:Instance) RETURN i.account_id AS account, count(*) AS vms\n", "x.cypher", "x")
    assert (alert.name, alert.severity, alert.schedule.interval, alert.key, alert.sinks) == (
        "big", "critical", 900.0, ("account",), ("ops",))
    assert alert.description == "many VMs, per account."
    assert alert.params == {"min": 2, "label": "x"}
    assert alert.threshold.select([{"vms": 1}, {"vms": 2}, {"vms": "3"}]) == [{"vms": 2}]
    assert Threshold.parse("rows >= 2", "t").select([{"a": 1}]) == []
    assert Threshold.parse("any", "t").select([{"a": 1}]) == [{"a": 1}]
    assert parse_alert("// schedule: 0 * * * *\nRETURN 1 AS x", "y", "y").schedule.cron == "0 * * * *"
    assert parse_alert("RETURN 1 AS uid", "z", "z").schedule.after_collect
    for bad, message in [
        ("// severity: loud\nRETURN 1", "severity"),
        ("// schedule: sometimes\nRETURN 1", "schedule"),
        ("// threshold: lots\nRETURN 1", "threshold"),
        ("// name: x\n// uses: orphans\n// params: provider=alibaba", "provider"),
        ("// name: x\n// description: nothing below\n", "no Cypher"),
    ]:
        with pytest.raises(AlertError, match=message):
            parse_alert(bad, "bad.cypher", "bad")


def test_shipped_alerts_cover_every_provider_and_kind(tmp_path: Path) -> None:
    alerts = shipped_alerts()
    for provider in ("aws", "gcp", "azure", "openstack"):
        for kind, prefix in (("instance", "orphan_instances"), ("disk", "orphan_disks"), ("ip", "orphan_ips")):
            alert = alerts[f"{prefix}_{provider}"]
            assert alert.uses == "orphans" and alert.params == {"provider": provider, "kind": kind}
            assert alert.schedule.after_collect and alert.sources == ("gardener", provider)
    assert alerts["collections_failing"].uses is None
    # A user alert with a shipped name replaces it; disabled ones are gone; unknown disabled names are errors.
    (tmp_path / "mine.cypher").write_text("// name: orphan_ips_aws\n// severity: info\nRETURN 1 AS uid\n")
    merged = load_alerts([tmp_path], disabled=["orphan_ips_gcp"])
    assert merged["orphan_ips_aws"].severity == "info" and "orphan_ips_gcp" not in merged
    with pytest.raises(AlertError, match="unknown"):
        load_alerts([], disabled=["no_such_alert"])


def test_alert_settings_read_secrets_without_showing_them(tmp_path: Path) -> None:
    url_file = tmp_path / "hook"
    url_file.write_text("https://hooks.example.invalid/services/T/B/filetoken\n")
    loaded = settings_from_mapping({"alerts": {"sinks": [
        {"type": "webhook", "name": "ops", "url_env": "OPS_HOOK", "headers_env": {"Authorization": "OPS_TOKEN"}},
        {"type": "slack", "url_file": str(url_file)},
    ]}}, env={"OPS_HOOK": "https://ops.example.invalid/hook/envtoken", "OPS_TOKEN": "Bearer sekrit-value"})
    parsed = loaded.alert_settings()
    assert [s.name for s in parsed.sinks] == ["ops", "slack"]
    assert parsed.sinks[1].url == "https://hooks.example.invalid/services/T/B/filetoken"
    assert "envtoken" not in repr(parsed) and "sekrit" not in repr(parsed)
    with pytest.raises(ConfigError, match=r"alerts.sinks\[0\].url_env: environment variable NOPE"):
        settings_from_mapping({"alerts": {"sinks": [{"type": "webhook", "url_env": "NOPE"}]}}, env={})
    with pytest.raises(ConfigError, match=r"alerts.sinks\[0\]: a slack sink needs url"):
        settings_from_mapping({"alerts": {"sinks": [{"type": "slack"}]}}, env={})
    # A secret given inline in the wrong shape is refused without being echoed.
    with pytest.raises(ConfigError) as refused:
        settings_from_mapping({"alerts": {"sinks": [{"type": "webhook", "url": "ftp://inline-sekrit-url"}]}}, env={})
    assert "inline-sekrit" not in str(refused.value) and "alerts.sinks[0]" in str(refused.value)


# -- runs against the graph ----------------------------------------------------------------------
def test_new_findings_are_announced_once_and_resolved_once(schema: Graph, receiver: Receiver) -> None:
    graph = schema
    alert = shipped_alerts()[ORPHAN_ALERT]
    runner = AlertRunner(graph, settings(webhook(receiver.url), notify_resolved=True),
                         [WebhookSink(webhook(receiver.url))], Metrics())
    write_landscape(graph, leaked=["i-leak1"])
    for _ in range(3):  # an hourly alert must not repeat the same VM every hour
        outcome = runner.run(alert)
        assert outcome.status == "complete", outcome.error
    assert receiver.keys() == [["i-leak1"]]
    assert receiver.bodies[0]["event"] == "new" and receiver.bodies[0]["alert"] == ORPHAN_ALERT
    assert receiver.bodies[0]["findings"][0]["data"]["reason"] == "no Machine runs on it"

    write_landscape(graph, leaked=["i-leak1", "i-leak2"])
    outcome = runner.run(alert)
    assert outcome.new == ["i-leak2"] and receiver.keys()[1:] == [["i-leak2"]]

    write_landscape(graph, leaked=["i-leak2"])  # i-leak1 was deleted by someone
    outcome = runner.run(alert)
    assert outcome.resolved == ["i-leak1"] and outcome.open == 1
    assert receiver.bodies[2]["event"] == "resolved" and receiver.keys()[2] == ["i-leak1"]
    runner.run(alert)
    assert len(receiver.bodies) == 3

    write_landscape(graph, leaked=["i-leak1", "i-leak2"])  # leaked again: a new opening, announced again
    assert runner.run(alert).new == ["i-leak1"] and receiver.keys()[3] == ["i-leak1"]
    recorded = {f["key"]: f for f in AlertStore(graph).findings(ORPHAN_ALERT, include_resolved=True)}
    assert recorded["i-leak1"]["notified"] == ["ops"] and recorded["i-leak1"]["resolved"] is False
    runs = graph.run_read("MATCH (r:AlertRun {alert: $a}) RETURN r.status AS s, r.new AS new ORDER BY r.started",
                          {"a": ORPHAN_ALERT})
    assert [r["new"] for r in runs] == [1, 0, 0, 1, 0, 0, 1] and {r["s"] for r in runs} == {"complete"}


def test_unverified_orphans_stay_open_and_quiet(schema: Graph, receiver: Receiver) -> None:
    """A failed read of the VM's scope makes its orphan unverified: not resolved, not announced again."""
    graph = schema
    alert = shipped_alerts()[ORPHAN_ALERT]
    runner = AlertRunner(graph, settings(webhook(receiver.url), notify_resolved=True),
                         [WebhookSink(webhook(receiver.url))])
    write_landscape(graph, leaked=["i-leak1"])
    runner.run(alert)
    write_landscape(graph, leaked=["i-leak1"], fail_aws=True)
    outcome = runner.run(alert)
    assert outcome.findings == [] and outcome.resolved == [] and outcome.open == 1
    write_landscape(graph, leaked=["i-leak1"])
    assert runner.run(alert).new == []
    assert receiver.keys() == [["i-leak1"]]


def test_a_failing_sink_is_retried_and_recovers(schema: Graph) -> None:
    failing = Receiver(failures=2, failure_status=503)
    try:
        graph = schema
        metrics = Metrics()
        runner = AlertRunner(graph, settings(webhook(failing.url), attempts=4), [WebhookSink(webhook(failing.url))],
                             metrics)
        write_landscape(graph, leaked=["i-leak1"])
        outcome = runner.run(shipped_alerts()[ORPHAN_ALERT])
        assert outcome.delivered == {"ops": 1} and outcome.failed_sinks == []
        assert failing.requests == 3 and failing.keys() == [["i-leak1"]]
        assert metrics.registry.get_sample_value("graphinv_alert_notification_retries_total", {"sink": "ops"}) == 2
        assert metrics.registry.get_sample_value("graphinv_alert_notifications_total",
                                                 {"sink": "ops", "status": "sent"}) == 1
    finally:
        failing.close()


def test_an_undelivered_finding_goes_out_on_a_later_run(schema: Graph) -> None:
    down = Receiver(failures=1000, failure_status=502)
    try:
        graph = schema
        metrics = Metrics()
        runner = AlertRunner(graph, settings(webhook(down.url), attempts=2), [WebhookSink(webhook(down.url))], metrics)
        alert = shipped_alerts()[ORPHAN_ALERT]
        write_landscape(graph, leaked=["i-leak1"])
        first = runner.run(alert)
        assert first.status == "complete" and first.failed_sinks == ["ops"] and first.new == ["i-leak1"]
        assert metrics.registry.get_sample_value("graphinv_alert_notifications_total",
                                                 {"sink": "ops", "status": "failed"}) == 1
        down.failures = 0  # the endpoint is back
        second = runner.run(alert)
        assert second.new == [] and second.delivered == {"ops": 1}
        runner.run(alert)
        assert down.keys() == [["i-leak1"]]
    finally:
        down.close()


def test_cypher_alert_with_column_threshold_and_key(schema: Graph, tmp_path: Path, receiver: Receiver) -> None:
    (tmp_path / "busy.cypher").write_text(
        "// name: busy_accounts\n// severity: info\n// schedule: 1h\n// threshold: vms >= $min_ignored\n"
        "MATCH (i:Instance) RETURN i.account_id AS account, count(*) AS vms\n")
    with pytest.raises(AlertError, match="threshold"):
        load_alerts([tmp_path])
    (tmp_path / "busy.cypher").write_text(
        "// name: busy_accounts\n// severity: info\n// schedule: 1h\n// threshold: vms >= 3\n// key: account\n"
        "// params: provider=aws\n"
        "MATCH (i:Instance) WHERE i.provider = $provider\n"
        "RETURN i.account_id AS account, count(*) AS vms\n")
    alert = load_alerts([tmp_path])["busy_accounts"]
    graph = schema
    runner = AlertRunner(graph, settings(webhook(receiver.url)), [WebhookSink(webhook(receiver.url))])
    write_landscape(graph, leaked=["i-a"])  # 2 VMs in account 111: under the threshold
    assert runner.run(alert).findings == []
    write_landscape(graph, leaked=["i-a", "i-b"])  # 3 VMs: a finding keyed by account
    outcome = runner.run(alert)
    assert [(f.key, f.data["vms"]) for f in outcome.findings] == [("111", 3)]
    write_landscape(graph, leaked=["i-a", "i-b", "i-c"])  # still the same finding, with a new count
    assert runner.run(alert).new == []
    assert receiver.keys() == [["111"]]


def test_dry_run_records_and_sends_nothing(schema: Graph, receiver: Receiver) -> None:
    graph = schema
    runner = AlertRunner(graph, settings(webhook(receiver.url)), [WebhookSink(webhook(receiver.url))])
    write_landscape(graph, leaked=["i-leak1"])
    outcome = runner.run(shipped_alerts()[ORPHAN_ALERT], dry_run=True)
    assert outcome.new == ["i-leak1"] and outcome.status == "complete"
    assert graph.run_read("MATCH (n) WHERE n:AlertRun OR n:AlertFinding RETURN count(n) AS c")[0]["c"] == 0
    assert receiver.requests == 0


def test_broken_alert_fails_its_run_only(schema: Graph) -> None:
    graph = schema
    broken = parse_alert("// name: broken\nMATCH (n) RETURN n.uid AS uid, 1/0 AS boom\n", "b", "b")
    graph.run_write("CREATE (:Project {uid: 'p'})")
    outcome = AlertRunner(graph, settings(), []).run(broken)
    assert outcome.status == "failed" and outcome.error
    status = graph.run_read("MATCH (r:AlertRun {alert: 'broken'}) RETURN r.status AS s")
    assert status == [{"s": "failed"}]


# -- sinks ---------------------------------------------------------------------------------------
def _notification(n: int = 2) -> Notification:
    return Notification(alert="orphan_instances_aws", severity="warning", description="VMs <nobody> runs",
                        event="new", run_id="r1", open_findings=n,
                        findings=[{"key": f"i-{k}", "data": {"name": f"<!channel> vm{k}", "account": "111"}}
                                  for k in range(n)])


def test_slack_message_format(receiver: Receiver) -> None:
    sink = SlackSink(SinkSettings(type="slack", name="slack", url=receiver.url))
    sink.send(_notification(300))
    body = receiver.bodies[0]
    assert body["text"].startswith("orphan_instances_aws: 300 new findings [warning]")
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds == ["header", "section", "section", "context"]
    listing = body["blocks"][2]["text"]["text"]
    assert len(listing) <= 3000 and "more" in listing.splitlines()[-1]
    assert "<!channel>" not in json.dumps(body) and "&lt;!channel&gt;" in listing
    assert body["blocks"][1]["text"]["text"] == "VMs &lt;nobody&gt; runs"


def test_sink_errors_never_show_the_url() -> None:
    rejecting = Receiver(failures=1000, failure_status=404)
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("json", "INFO", stream=stream)
        sink = WebhookSink(SinkSettings(type="webhook", name="ops", url=rejecting.url))
        ok = deliver(sink, _notification(1), Backoff(attempts=3, base=0.01, maximum=0.01))
        assert not ok and rejecting.requests == 1  # a 404 will not heal by retrying
        unreachable = WebhookSink(SinkSettings(type="webhook", name="gone",
                                               url="http://127.0.0.1:9/services/T0/B0/closedPortToken99"))
        assert not deliver(unreachable, _notification(1), Backoff(attempts=2, base=0.01, maximum=0.01))
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        rejecting.close()
    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert any(line.get("sink") == "ops" and "HTTP 404" in line["message"] for line in lines)
    assert any(line.get("sink") == "gone" for line in lines)
    assert "hookTokenAbc123XYZ" not in text and "closedPortToken99" not in text and "/services/" not in text


def test_alert_definition_key_defaults() -> None:
    alert = AlertDefinition(name="a", description="", text="RETURN 1", origin="x")
    assert alert.finding_key({"uid": "u1", "age": 3}) == "u1"
    assert alert.finding_key({"a": 1}) == alert.finding_key({"a": 1}) != alert.finding_key({"a": 2})


# -- the CLI -------------------------------------------------------------------------------------
def _cli(conn: Neo4jConnection, config: Path, *args: str, hook: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRAPHINV_NEO4J_URI": conn.uri, "GRAPHINV_CONFIG": str(config), "COLUMNS": "250",
           "HOOK": hook}
    return subprocess.run([sys.executable, "-m", "graphinv.commands.alerts", *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False, cwd=config.parent)


def test_alerts_cli_list_run_and_dry_run(schema: Graph, neo4j_connection: Neo4jConnection, tmp_path: Path,
                                         receiver: Receiver) -> None:
    config = tmp_path / "graphinv.yaml"
    config.write_text(json.dumps({"alerts": {"sinks": [{"type": "webhook", "name": "ops", "url_env": "HOOK"}]}}))
    hook = receiver.url
    listed = _cli(neo4j_connection, config, "list", "-f", "json", hook=hook)
    assert listed.returncode == 0, listed.stderr
    assert {"orphan_ips_azure", "collections_failing"} <= {a["name"] for a in json.loads(listed.stdout)}
    write_landscape(schema, leaked=["i-leak1"])
    dry = _cli(neo4j_connection, config, "run", ORPHAN_ALERT, "--dry-run", "-f", "json", hook=hook)
    assert dry.returncode == 0, dry.stderr
    assert [(r["key"], r["new"]) for r in json.loads(dry.stdout)] == [("i-leak1", True)]
    assert receiver.requests == 0
    real = _cli(neo4j_connection, config, "run", ORPHAN_ALERT, hook=hook)
    assert real.returncode == 0, real.stderr
    assert "1 new" in real.stdout and receiver.keys() == [["i-leak1"]]
    again = _cli(neo4j_connection, config, "run", ORPHAN_ALERT, "-f", "json", hook=hook)
    assert [(r["key"], r["new"]) for r in json.loads(again.stdout)] == [("i-leak1", False)]
    assert len(receiver.bodies) == 1
    assert SECRET_PATH not in real.stdout + real.stderr + again.stderr
    unknown = _cli(neo4j_connection, config, "run", "no_such_alert", hook=hook)
    assert unknown.returncode == 2 and "no alert named" in unknown.stderr
    missing = _cli(neo4j_connection, config, "list")  # HOOK empty: the sink cannot be configured
    assert missing.returncode == 2 and "HOOK is not set" in missing.stderr
