"""`graphinv report --html`: the page's numbers against the orphan report, its capacity section against
`graphinv capacity --by project`, the orphans' hardware, its trend against recorded alert findings,
offline rendering in headless Chromium (a screenshot, see tests/support/screenshots.py)."""

from __future__ import annotations

import html
import json
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
from graphinv.capacity import SUMMED, totals
from graphinv.config import Neo4jConnection
from graphinv.db import Graph
from graphinv.ingest import Ingest
from graphinv.inventory.report import ReportData, gather, render_html, waste_trend
from graphinv.orphans import OrphanFilter, orphan_report
from tests.support.chromium_cdp import Chromium, find_chromium
from tests.support.cli import run_graphinv
from tests.support.graph import wipe
from tests.support.inventory_landscapes import clean_env, collect_simulated, write_config
from tests.support.screenshots import publish

REPO = Path(__file__).resolve().parents[1]
STALENESS = timedelta(hours=6)
# The simulator's AWS catalogue (graphinv/sim/hardware.py) describes m5.large, m5.xlarge and the GPU type
# g5.xlarge; m5.2xlarge and t3.medium are in no catalogue (VMs of unknown hardware).
TYPES = ("m5.large", "m5.xlarge", "m5.2xlarge", "g5.xlarge", "t3.medium")
GPU_ORPHAN = "i-report00000003"  # g5.xlarge: 4 vCPUs, 16 GiB, one NVIDIA A10G (as EC2 names it)
UNKNOWN_ORPHAN = "i-report00000002"  # m5.2xlarge


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


def _cells(row_html: str) -> list[str]:
    """The text of each cell: <br> ends a line, other tags become spaces, entities are decoded."""
    cells = []
    for cell in re.findall(r"<td[^>]*>(.*?)</td>", row_html, re.S):
        lines = re.sub(r"<[^>]+>", " ", re.sub(r"<br\s*/?>", "\n", cell)).split("\n")
        cells.append("\n".join(" ".join(html.unescape(line).split()) for line in lines))
    return cells


def _gpu_models(cell: str) -> dict[str, int]:
    """"2 \u00d7 NVIDIA A10G" lines as {model: count}; "0" is none."""
    if cell == "0":
        return {}
    pairs = [line.split(" \u00d7 ", 1) for line in cell.split("\n")]
    return {model: int(count) for count, model in pairs}


def test_capacity_section_equals_the_capacity_command(collected: Graph, neo4j_connection: Neo4jConnection,
                                                      tmp_path: Path) -> None:
    data = gather(collected, STALENESS)
    page = render_html(data)
    config = write_config(tmp_path / "graphinv.yaml", neo4j_connection, {"orphans": {"max_staleness": "6h"}})
    done = run_graphinv("capacity", "--by", "project", "--format", "json",
                        env=clean_env(dict(os.environ), GRAPHINV_CONFIG=str(config)), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    section = re.search(r'<section id="capacity">(.*?)</section>', page, re.S)
    assert section
    shown = {html.unescape(group) or "total": _cells(row)
             for group, row in re.findall(r'<tr data-group="([^"]*)">(.*?)</tr>', section.group(1), re.S)}
    assert list(shown) == [r["group"] for r in printed]  # every project, in order, then the total
    for want in printed:
        got = shown[want["group"]]
        assert got[0] == want["group"]
        assert [int(got[i]) for i in (1, 2, 5, 6, 8, 9, 10, 12, 14)] == [
            want[k] for k in ("vms", "vcpus", "orphan_vms", "orphan_vcpus", "orphan_gpus", "unverified_vms",
                              "unverified_vcpus", "unverified_gpus", "unknown_vms")], want["group"]
        assert float(got[3].replace(",", "")) == want["memory_gib"]
        assert float(got[7].replace(",", "")) == round(want["orphan_memory_mib"] / 1024, 1)
        assert float(got[11].replace(",", "")) == round(want["unverified_memory_mib"] / 1024, 1)
        assert _gpu_models(got[4]) == want["gpus_by_model"]
        assert got[13] == f'{want["wasted_vcpu_share"] * 100:.1f}%'
    total = printed[-1]
    # Not a page of zeros: the planted orphans, the forbidden seed's unverified VMs and the GPU orphan count.
    assert total["orphan_vcpus"] > 0 and total["unverified_vcpus"] > 0 and total["orphan_gpus"] >= 1
    # The capacity section and the orphan rows agree on the planted project's orphan hardware.
    legacy = [r for r in data.orphans if r["kind"] == "instance" and r["project"] == "legacy"]
    assert shown["legacy"][6] == str(sum(r["vcpus"] or 0 for r in legacy))
    assert shown["legacy"][5] == str(len(legacy)) == "25"


def test_orphan_table_shows_the_hardware(collected: Graph) -> None:
    data = gather(collected, STALENESS, top=1000)  # every finding in the table, whatever it costs
    page = render_html(data)
    costliest = re.search(r'<section id="costliest">(.*?)</section>', page, re.S)
    assert costliest
    rows = {uid: _cells(row) for row in re.findall(r"<tr>(.*?)</tr>", costliest.group(1), re.S)
            for uid in re.findall(r"<code>(i-report\d+)</code>", row)}
    assert len(rows) == 25
    # provider, kind, resource, account / region, shoot tag, age, vCPUs, memory (GiB), GPUs, USD/month, ...
    assert rows[GPU_ORPHAN][6:9] == ["4", "16.0", "1 \u00d7 NVIDIA A10G"]
    assert rows["i-report00000001"][6:9] == ["4", "16.0", "0"]  # m5.xlarge
    assert rows["i-report00000000"][6:9] == ["2", "8.0", "0"]  # m5.large
    assert rows[UNKNOWN_ORPHAN][6:9] == ["unknown type", "", ""]
    finding = next(r for r in data.findings if r["uid"] == GPU_ORPHAN)
    hardware = (finding["vcpus"], finding["memory_mib"], finding["gpus"], finding["gpu_model"])
    assert hardware == (4, 16384, 1, "NVIDIA A10G")


def test_hardware_and_capacity_values_are_escaped() -> None:
    hostile = "<script>x</script>"
    data = ReportData(generated=datetime.now(UTC), scopes=[], max_staleness=STALENESS, findings=[
        {"verdict": "orphan", "kind": "instance", "provider": "aws", "name": hostile, "uid": "i-x", "account": "a",
         "region": "r", "reason": hostile, "est_monthly_cost_usd": 1.0, "vcpus": 2, "memory_mib": 2048,
         "gpus": 1, "gpu_model": hostile}])
    group = {"group": hostile, **dict.fromkeys(SUMMED, 1), "gpus_by_model": {hostile: 1}, "wasted_vcpu_share": 0.5}
    data.capacity, data.capacity_total = [group], totals([group])
    page = render_html(data)
    assert "<script" not in page and page.count("&lt;script&gt;x&lt;/script&gt;") >= 4


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
        shot = browser.screenshot(tmp_path / "report.png")
    publish(shot, "report.png")
    assert shot.stat().st_size > 20_000
