"""`graphinv report --html`: the page's numbers against the orphan report, its trend against recorded
alert findings, offline rendering in headless Chromium (screenshot to docs/screenshots/report.png)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collectors.records import InstanceRecord
from collectors.scope import Scope
from graphinv.alerts.store import AlertStore, Finding
from graphinv.config import Neo4jConnection
from graphinv.db import Graph
from graphinv.ingest import Ingest
from graphinv.inventory.report import gather, render_html, waste_trend
from graphinv.orphans import OrphanFilter, orphan_report
from tests.support.chromium_cdp import Chromium, find_chromium
from tests.support.graph import wipe
from tests.support.inventory_landscapes import clean_env, collect_simulated, write_config

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "docs" / "screenshots" / "report.png"
STALENESS = timedelta(hours=6)
TYPES = ("m5.large", "m5.xlarge", "m5.2xlarge", "c5.large", "t3.medium")


def plant_orphans(graph: Graph, count: int) -> None:
    """`count` AWS VMs of a deleted shoot, of several sizes and ages, in a scope read completely now."""
    now = datetime.now(UTC)
    records = [InstanceRecord(uid=f"i-report{n:08d}", name=f"shoot--legacy--gone-worker-z1-{n}", provider="aws",
                              account_id="888888888888", region="eu-west-1", zone="eu-west-1a",
                              cluster="shoot--legacy--gone", status="running", state="running", role="node",
                              instance_type=TYPES[n % len(TYPES)], created=now - timedelta(days=3 + 11 * n))
               for n in range(count)]
    with Ingest(graph).scope(Scope("aws", "888888888888", "eu-west-1", "Instance")) as run:
        run.write(records)


def record_history(graph: Graph, now: datetime) -> dict[str, tuple[datetime, datetime | None, float]]:
    """Orphan alert runs on three past days, through the real alert store: key -> (opened, resolved, cost)."""
    store = AlertStore(graph)
    store.ensure_schema()
    days = {"a": 20.0, "b": 50.0, "c": 120.0}
    runs = [(now - timedelta(days=20), ["a", "b"]), (now - timedelta(days=10), ["a", "b", "c"]),
            (now - timedelta(days=3), ["a"])]
    spans: dict[str, tuple[datetime, datetime | None, float]] = {}
    for n, (when, keys) in enumerate(runs):
        findings = [Finding(key=f"hist-{k}", data={"uid": f"hist-{k}", "est_monthly_cost_usd": days[k]}) for k in keys]
        store.record("orphan_instances_aws", "warning", f"hist-run-{n}", findings, [], when)
        for k in keys:
            if k not in spans:
                spans[k] = (when, None, days[k])
        for k, (opened, resolved, cost) in list(spans.items()):
            if k not in keys and resolved is None:
                spans[k] = (opened, when, cost)
    return spans


@pytest.fixture(scope="module")
def collected(session_graph: Graph, tmp_path_factory: pytest.TempPathFactory) -> Graph:
    wipe(session_graph)
    collect_simulated(session_graph, tmp_path_factory.mktemp("sim"))
    plant_orphans(session_graph, 25)
    return session_graph


def test_numbers_equal_the_orphan_report(collected: Graph) -> None:
    now = datetime.now(UTC)
    data = gather(collected, STALENESS, now=now)
    rows = orphan_report(collected, OrphanFilter(max_staleness=STALENESS), now=now)
    orphans = [r for r in rows if r["verdict"] == "orphan"]
    by_provider: dict[str, float] = defaultdict(float)
    for r in orphans:
        by_provider[r["provider"]] += r["est_monthly_cost_usd"] or 0
    assert data.waste_by("provider") == pytest.approx(dict(by_provider))
    top = sorted(orphans, key=lambda r: -(r["est_monthly_cost_usd"] or 0))[:20]
    assert [r["est_monthly_cost_usd"] for r in data.costliest()] == [r["est_monthly_cost_usd"] for r in top]
    assert len(orphans) > 20
    assert sum(c for c, _ in data.age_distribution().values()) == len([r for r in orphans if r["age_days"] is not None])

    page = render_html(data)
    costliest = re.search(r'<section id="costliest">(.*?)</section>', page, re.S)
    assert costliest and costliest.group(1).count("<tr>") == 21  # header + 20
    assert f"{sum(by_provider.values()):,.0f} USD" in page
    assert page.count("<svg") == 3  # provider, project, age; no trend without recorded findings
    assert 'id="no-trend"' in page
    # The forbidden seed's machines were not read: its VMs are unverified, and the page says why.
    failed = [s for s in data.scopes if s["status"] != "complete"]
    assert failed and all(s["scope"] in page for s in failed)


def test_trend_follows_the_recorded_findings(collected: Graph) -> None:
    now = datetime.now(UTC)
    spans = record_history(collected, now)
    try:
        points = dict(waste_trend(collected, now))
        for moment, value in points.items():
            expected = sum(c for o, r, c in spans.values() if o <= moment and (r is None or r > moment))
            assert value == pytest.approx(expected), moment
        assert max(points.values()) == pytest.approx(190.0)  # a, b and c open between day -10 and day -3
        assert len(points) >= 20
    finally:
        collected.run_write("MATCH (f:AlertFinding) WHERE f.key STARTS WITH 'hist-' DETACH DELETE f")


def test_cli_writes_an_offline_page_that_chromium_renders(collected: Graph, neo4j_connection: Neo4jConnection,
                                                          tmp_path: Path) -> None:
    record_history(collected, datetime.now(UTC))
    config = write_config(tmp_path / "graphinv.yaml", neo4j_connection)
    out = tmp_path / "report.html"
    done = subprocess.run([sys.executable, "-m", "graphinv", "report", "--html", str(out)], capture_output=True,
                          text=True, env=clean_env(dict(os.environ), GRAPHINV_CONFIG=str(config)), timeout=300,
                          check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    # Self-contained: nothing is fetched (namespace URIs inside SVG are names, not requests).
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", page)
    assert "@import" not in page and not re.search(r"url\(\s*['\"]?(?!#)", page)  # url(#id): in-page only
    assert page.count("<svg") == 4  # the trend is drawn now

    bad = subprocess.run([sys.executable, "-m", "graphinv", "report", "--html", str(tmp_path / "no" / "x.html")],
                         capture_output=True, text=True, env=clean_env(dict(os.environ), GRAPHINV_CONFIG=str(config)),
                         timeout=300, check=False, cwd=tmp_path)
    assert bad.returncode == 2 and "cannot write" in bad.stderr and not bad.stdout

    executable = find_chromium()
    if executable is None:
        pytest.skip("chromium not installed (./dev test installs Debian's chromium when run as root)")
    with Chromium(executable, tmp_path / "profile", width=1400, height=2300) as browser:
        browser.navigate(out.as_uri())
        browser.wait_until("document.readyState === 'complete' && !!document.querySelector('#unverified')")
        sizes = browser.evaluate("[...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect().width)")
        assert len(sizes) == 4 and min(sizes) > 200, sizes
        assert browser.evaluate("performance.getEntriesByType('resource').length") == 0
        assert browser.evaluate("document.querySelectorAll('#costliest tbody tr').length") == 20
        browser.screenshot(tmp_path / "report.png")
        browser.screenshot(SCREENSHOT)
    assert SCREENSHOT.stat().st_size > 20_000
