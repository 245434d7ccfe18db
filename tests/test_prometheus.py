"""Prometheus for real: promtool on the shipped rules, and Debian's `prometheus` server scraping a real
`graphinv scheduler start` that collects a simulated landscape; an orphan planted in the graph makes
the orphan-cost rule fire. The Grafana dashboard's queries run against the same server.

The server runs from a test copy of the shipped rules in which only `for:` is 0s (so the test does
not wait an hour); expressions and thresholds are the shipped ones.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from collectors.records import InstanceRecord
from collectors.scope import Scope
from graphinv.config import Neo4jConnection
from graphinv.db import Graph
from graphinv.ingest import Ingest
from graphinv.metrics import Metrics
from graphinv.orphan_settings import PriceTable
from graphinv.orphans import OrphanFilter, orphan_report
from graphinv.ports import free_port
from graphinv.sim.generate import generate
from graphinv.sim.runtime import SimulatedLandscape
from tests.support.graph import wipe
from tests.support.inventory_landscapes import clean_env, write_config

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "deploy" / "prometheus" / "graphinv-rules.yaml"
OPERATOR_RULE = REPO / "deploy" / "kubernetes" / "base" / "prometheusrule.yaml"
DASHBOARD = REPO / "deploy" / "grafana" / "graphinv.json"
WAIT = 420.0  # generous: the machine may be busy; nothing here measures speed
PLANTED_ACCOUNT = "999999999999"


def tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        pytest.skip(f"{name} not found: install Debian's prometheus package (apt-get install -y prometheus; "
                    "./dev test does it when run as root)")
    return path


def shipped_rules() -> dict[str, Any]:
    rules: dict[str, Any] = yaml.safe_load(RULES.read_text())
    return rules


def rule_threshold(alert: str) -> float:
    rule = next(r for g in shipped_rules()["groups"] for r in g["rules"] if r.get("alert") == alert)
    return float(re.findall(r">\s*([0-9.]+)\s*$", rule["expr"])[0])


def test_promtool_accepts_the_shipped_rules_and_rejects_a_broken_copy(tmp_path: Path) -> None:
    promtool = tool("promtool")
    done = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = shipped_rules()
    broken["groups"][0]["rules"][0]["expr"] = "sum by (provider (graphinv_orphan_cost_usd_monthly)"
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(broken))
    refused = subprocess.run([promtool, "check", "rules", str(tmp_path / "broken.yaml")], capture_output=True,
                             text=True, timeout=60, check=False)
    assert refused.returncode != 0


def test_operator_rule_carries_the_shipped_groups() -> None:
    resource = yaml.safe_load(OPERATOR_RULE.read_text())
    assert resource["kind"] == "PrometheusRule" and resource["apiVersion"] == "monitoring.coreos.com/v1"
    assert resource["spec"] == shipped_rules()
    kustomization = yaml.safe_load((OPERATOR_RULE.parent / "kustomization.yaml").read_text())
    assert OPERATOR_RULE.name in kustomization["resources"]


def metric_names() -> set[str]:
    """Every sample name graphinv's registry can expose (counters with _total, histograms with _bucket...)."""
    names: set[str] = set()
    for family in Metrics().registry.collect():
        base = family.name
        suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
                    "gauge": ("",)}.get(family.type, ("",))
        names |= {base + s for s in suffixes}
    return names


def dashboard_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in board["panels"] for t in p["targets"]]


def test_dashboard_and_rules_use_only_metrics_graphinv_exposes() -> None:
    known = metric_names() | {"up", "time"}
    functions = {"sum", "by", "min", "max", "increase", "rate", "histogram_quantile", "time", "unless", "le"}
    texts = dashboard_queries() + [r["expr"] for g in shipped_rules()["groups"] for r in g["rules"]]
    for text in texts:
        bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", "", text)
        for word in re.findall(r"[a-z_][a-z0-9_]*", bare):
            if word.startswith("graphinv_watch"):
                continue  # the watch's own gauge, exported once the watch runs under the scheduler
            assert word in known or word in functions or not word.startswith(("graphinv", "up")), (word, text)


def test_orphan_cost_gauge_sums_orphans_only() -> None:
    metrics = Metrics()
    metrics.record_orphans("aws", None, [
        {"kind": "instance", "verdict": "orphan", "est_monthly_cost_usd": 70.08},
        {"kind": "instance", "verdict": "orphan", "est_monthly_cost_usd": 280.32},
        {"kind": "instance", "verdict": "unverified", "est_monthly_cost_usd": 1000.0},
        {"kind": "disk", "verdict": "orphan", "est_monthly_cost_usd": None},
    ])
    get = metrics.registry.get_sample_value
    assert get("graphinv_orphan_cost_usd_monthly", {"provider": "aws", "kind": "instance"}) == 350.4
    assert get("graphinv_orphan_cost_usd_monthly", {"provider": "aws", "kind": "disk"}) == 0
    assert get("graphinv_orphan_cost_usd_monthly", {"provider": "aws", "kind": "ip"}) == 0


# -- the live test ----------------------------------------------------------------------------------
def wait_for(what: str, check: Callable[[], Any], timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(1.0)
    raise AssertionError(f"timed out waiting for {what}")


def query(base: str, promql: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{base}/api/v1/query", params={"query": promql}, timeout=30)
    body = response.json()
    assert body["status"] == "success", (promql, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def firing(base: str, alert: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{base}/api/v1/alerts", timeout=30).json()
    return [a for a in body["data"]["alerts"] if a["labels"]["alertname"] == alert and a["state"] == "firing"]


@pytest.fixture
def sim_sources(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A simulated landscape served for Gardener and AWS; its `sources:` section."""
    with SimulatedLandscape(generate(scale=0.05, seed=7), tmp_path / "sim") as sim:
        sources = sim.config()["sources"]
        yield {name: sources[name] for name in ("gardener", "aws")}


def start(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log.open("w"), text=True, env=env, cwd=cwd)


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def scaled_down_prices(path: Path) -> Path:
    """The shipped price table with AWS at a tenth of its prices except the planted m5.2xlarge: the
    generated landscape's own orphans then stay below the shipped threshold, and the three planted VMs
    alone take the sum above it (the rule's expression and threshold stay the shipped ones)."""
    table = PriceTable.load().table
    aws = table["aws"]
    aws["hourly"] = {k: (v if k == "m5.2xlarge" else v / 10) for k, v in aws["hourly"].items()}
    aws["disk_gb_month"] = {k: v / 10 for k, v in aws["disk_gb_month"].items()}
    aws["ip_month"] = aws["ip_month"] / 10
    path.write_text(yaml.safe_dump(table))
    return path


def expected_orphan_cost(graph: Graph, provider: str, prices: Path) -> float:
    rows = orphan_report(graph, OrphanFilter(provider=provider), PriceTable.load(prices))
    return sum(r["est_monthly_cost_usd"] or 0 for r in rows if r["verdict"] == "orphan")


def plant_orphans(graph: Graph) -> None:
    """Three big AWS VMs tagged for a shoot that no longer exists, in a scope read completely now."""
    created = datetime.now(UTC) - timedelta(days=30)
    scope = Scope("aws", PLANTED_ACCOUNT, "eu-west-1", "Instance")
    records = [InstanceRecord(uid=f"i-planted{n:08d}", name=f"shoot--planted--gone-worker-z1-{n}", provider="aws",
                              account_id=PLANTED_ACCOUNT, region="eu-west-1", zone="eu-west-1a",
                              cluster="shoot--planted--gone", status="running", state="running", role="node",
                              instance_type="m5.2xlarge", created=created) for n in range(3)]
    ingest = Ingest(graph)
    with ingest.scope(scope) as run:
        run.write(records)


@pytest.mark.slow
def test_prometheus_scrapes_the_scheduler_and_the_orphan_cost_rule_fires(
        graph: Graph, neo4j_connection: Neo4jConnection, sim_sources: dict[str, Any], tmp_path: Path) -> None:
    prometheus = tool("prometheus")
    wipe(graph)
    prices = scaled_down_prices(tmp_path / "prices.yaml")
    config = write_config(tmp_path / "graphinv.yaml", neo4j_connection, {
        "sources": sim_sources,
        "orphans": {"prices": str(prices)},
        "scheduler": {"interval": "20s", "jitter": 0, "run_at_start": True, "retry": {"attempts": 1},
                      "metrics": {"port": 0}, "collect": {"gardener": {"interval": "20s"},
                                                          "aws": {"interval": "20s", "kinds": {}}}},
    })
    env = clean_env(dict(os.environ), GRAPHINV_CONFIG=str(config))
    scheduler = start([sys.executable, "-m", "graphinv.commands.scheduler", "start", "--log-format", "json"],
                      env, tmp_path, tmp_path / "scheduler.log")
    server: subprocess.Popen[str] | None = None
    try:
        assert scheduler.stdout is not None
        ready, _, _ = select.select([scheduler.stdout], [], [], WAIT)
        line = scheduler.stdout.readline() if ready else ""
        started = json.loads(line or "{}")
        assert started.get("event") == "started", (line, (tmp_path / "scheduler.log").read_text()[-3000:])
        target = started["metrics"].removeprefix("http://")

        rules = shipped_rules()
        for group in rules["groups"]:
            for rule in group["rules"]:
                rule["for"] = "0s"
        (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(tmp_path / "rules.yaml")],
            "scrape_configs": [{"job_name": "graphinv", "static_configs": [{"targets": [target]}]}],
        }))
        port = free_port()
        server = start([prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
                        f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
                       env, tmp_path, tmp_path / "prometheus.log")
        base = f"http://127.0.0.1:{port}"
        wait_for("Prometheus to scrape the scheduler",
                 lambda: server.poll() is None and _answers(base) and query(base, 'up{job="graphinv"} == 1'))

        # The orphan alerts ran after a Gardener and an AWS collection: the metrics are there.
        wait_for("the orphan cost of aws", lambda: query(base, 'graphinv_orphan_cost_usd_monthly{provider="aws"}'))
        for name in ("graphinv_job_runs_total", "graphinv_scope_last_complete_timestamp_seconds",
                     "graphinv_orphans", "graphinv_scope_duration_seconds_count"):
            assert query(base, name), name
        threshold = rule_threshold("GraphinvOrphanCostHigh")
        before = expected_orphan_cost(graph, "aws", prices)
        assert before <= threshold, f"the landscape's own AWS orphans ({before}) already exceed {threshold}"
        assert not [a for a in firing(base, "GraphinvOrphanCostHigh") if a["labels"]["provider"] == "aws"]

        plant_orphans(graph)
        after = expected_orphan_cost(graph, "aws", prices)
        assert after > threshold  # what the report says now, by the same logic the scheduler uses

        alert = wait_for("GraphinvOrphanCostHigh to fire for aws", lambda: [
            a for a in firing(base, "GraphinvOrphanCostHigh") if a["labels"]["provider"] == "aws"])[0]
        assert float(alert["value"]) == pytest.approx(after, abs=0.5)

        # Every Grafana query runs and returns data on this server.
        for expr in dashboard_queries():
            promql = expr.replace("$__rate_interval", "1m").replace('=~"$provider"', '=~".*"')
            assert query(base, promql), expr
    finally:
        if server is not None:
            stop(server)
        stop(scheduler)


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/-/ready", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
