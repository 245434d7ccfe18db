"""`graphinv report --html FILE`: one self-contained HTML page about waste, for people.

Charts are drawn with matplotlib and embedded as inline SVG: a static, vector image needs no
JavaScript, no web font and no CDN, opens offline in any browser and prints well; matplotlib is a
plain Python wheel (no browser engine or Node at build time, unlike Vega-Lite's renderers). Glyphs
are stored as paths (`svg.fonttype: path`), so the page looks the same without the fonts installed.

Everything comes from the same orphan report as `graphinv orphans` (graphinv/orphans.py), whose VM
rows carry their hardware; the capacity section is graphinv/capacity.py's `capacity(..., "project")`,
the function behind `graphinv capacity --by project`, fed the same verdicts. The
waste trend is drawn from the orphan alerts' recorded findings (AlertFinding nodes: when each
finding opened and resolved, and its estimated cost), which exist once `graphinv scheduler start` or
`graphinv alerts run` has recorded orphan alerts; without them the page says so.
"""

from __future__ import annotations

import html
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from graphinv import __version__
from graphinv.capacity import capacity, instance_verdicts, totals
from graphinv.db import Graph
from graphinv.orphan_settings import PriceTable
from graphinv.orphans import OrphanFilter, freshness, orphan_report

AGE_BUCKETS: tuple[tuple[str, float], ...] = (("< 1 day", 1), ("1-7 days", 7), ("7-30 days", 30),
                                              ("30-90 days", 90), ("90-365 days", 365), ("> 1 year", float("inf")))
TREND_DAYS = 90

TREND_QUERY = """
MATCH (f:AlertFinding) WHERE f.alert STARTS WITH 'orphan_' AND f.opened IS NOT NULL
RETURN f.opened AS opened, f.resolved_at AS resolved_at, f.data AS data
"""


@dataclass
class ReportData:
    generated: datetime
    findings: list[dict[str, Any]]
    scopes: list[dict[str, Any]]
    max_staleness: timedelta
    trend: list[tuple[datetime, float]] = field(default_factory=list)
    top: int = 20
    # `graphinv capacity --by project`'s rows (graphinv/capacity.py), without and with its total row.
    capacity: list[dict[str, Any]] = field(default_factory=list)
    capacity_total: dict[str, Any] | None = None

    @property
    def orphans(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if f["verdict"] == "orphan"]

    @property
    def unverified(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if f["verdict"] == "unverified"]

    def waste_by(self, key: str) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for row in self.orphans:
            totals[row.get(key) or "(none)"] += row["est_monthly_cost_usd"] or 0.0
        return dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))

    def age_distribution(self) -> dict[str, tuple[int, float]]:
        counts = {name: [0, 0.0] for name, _ in AGE_BUCKETS}
        for row in self.orphans:
            age = row.get("age_days")
            if age is None:
                continue
            name = next(n for n, limit in AGE_BUCKETS if age < limit)
            counts[name][0] += 1
            counts[name][1] += row["est_monthly_cost_usd"] or 0.0
        return {n: (int(c), float(usd)) for n, (c, usd) in counts.items()}

    def costliest(self) -> list[dict[str, Any]]:
        return sorted(self.orphans, key=lambda r: (-(r["est_monthly_cost_usd"] or 0.0), r["uid"]))[: self.top]

    def doubtful_scopes(self) -> list[dict[str, Any]]:
        """Scopes whose last read failed or whose last complete read is too old to prove anything."""
        out = []
        for scope in self.scopes:
            last = datetime.fromisoformat(scope["last_complete"]) if scope["last_complete"] else None
            if scope["status"] != "complete" or last is None or self.generated - last > self.max_staleness:
                why = scope.get("error") or (
                    "never read completely" if last is None else
                    f"last complete read {_age(self.generated - last)} ago (older than {_age(self.max_staleness)})")
                out.append({**scope, "why": why})
        return out

    def unverified_reasons(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = defaultdict(int)
        for row in self.unverified:
            counts[row["reason"]] += 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _age(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def _native(value: Any) -> datetime | None:
    if value is None:
        return None
    native = value.to_native() if hasattr(value, "to_native") else value
    return native if isinstance(native, datetime) else None


def waste_trend(graph: Graph, now: datetime, days: int = TREND_DAYS) -> list[tuple[datetime, float]]:
    """Estimated monthly cost of the orphans open at the end of each day, from recorded findings."""
    rows = graph.run_read(TREND_QUERY)
    spans: list[tuple[datetime, datetime | None, float]] = []
    for row in rows:
        opened = _native(row["opened"])
        if opened is None:
            continue
        try:
            cost = float(json.loads(row["data"] or "{}").get("est_monthly_cost_usd") or 0.0)
        except (ValueError, TypeError, AttributeError):
            cost = 0.0
        spans.append((opened, _native(row["resolved_at"]), cost))
    if not spans:
        return []
    start = max(min(s[0] for s in spans), now - timedelta(days=days))
    points = []
    day = start.replace(hour=23, minute=59, second=59, microsecond=0)
    while day < now + timedelta(days=1):
        moment = min(day, now)
        open_cost = sum(c for o, r, c in spans if o <= moment and (r is None or r > moment))
        points.append((moment, round(open_cost, 2)))
        day += timedelta(days=1)
    return points


def gather(graph: Graph, max_staleness: timedelta, prices: PriceTable | None = None, top: int = 20,
           now: datetime | None = None) -> ReportData:
    now = now or datetime.now(UTC)
    findings = orphan_report(graph, OrphanFilter(max_staleness=max_staleness), prices, now=now)
    # The same calls, in the same order, as `graphinv capacity --by project` makes: the two cannot differ.
    orphan_vms, unverified_vms = instance_verdicts(graph, max_staleness, now=now)
    by_project = capacity(graph, "project", False, orphan_vms, unverified_vms)
    return ReportData(generated=now, findings=findings, scopes=freshness(graph), max_staleness=max_staleness,
                      trend=waste_trend(graph, now), top=top, capacity=by_project,
                      capacity_total=totals(by_project))


# -- charts ------------------------------------------------------------------------------------------
def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    # No metadata block: its RDF namespaces look like links, and a date would make every file differ.
    figure.savefig(buffer, format="svg", bbox_inches="tight",
                   metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: the SVG sits inside HTML


def _figure(width: float, height: float) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "path"
    matplotlib.rcParams["svg.hashsalt"] = "graphinv"  # stable ids: the same data gives the same file
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def bar_chart(values: dict[str, float], title: str, xlabel: str) -> str:
    labels = list(values)[:15][::-1]
    fig = _figure(6.2, 0.45 * max(len(labels), 2) + 1.2)
    ax = fig.add_subplot()
    bars = ax.barh(labels, [values[k] for k in labels], color="#c0392b")
    ax.bar_label(bars, labels=[f"{values[k]:,.0f}" for k in labels], padding=3, fontsize=8)
    ax.set_title(title, fontsize=11, loc="left")
    ax.set_xlabel(xlabel)
    ax.spines[["top", "right"]].set_visible(False)
    ax.margins(x=0.15)
    return _svg(fig)


def age_chart(distribution: dict[str, tuple[int, float]]) -> str:
    fig = _figure(6.2, 2.8)
    ax = fig.add_subplot()
    names = list(distribution)
    bars = ax.bar(names, [distribution[n][0] for n in names], color="#2c3e50")
    ax.bar_label(bars, labels=[f"{distribution[n][0]}\n{distribution[n][1]:,.0f} USD" for n in names], fontsize=7)
    ax.set_title("Orphans by age (count, and estimated USD/month)", fontsize=11, loc="left")
    ax.set_ylabel("orphans")
    ax.tick_params(axis="x", labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.margins(y=0.3)
    return _svg(fig)


def trend_chart(points: Sequence[tuple[datetime, float]]) -> str:
    fig = _figure(12.4, 2.8)
    ax = fig.add_subplot()
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3, color="#c0392b")
    ax.fill_between([p[0] for p in points], [p[1] for p in points], alpha=0.15, color="#c0392b")
    ax.set_title("Estimated monthly cost of open orphan findings, end of each day", fontsize=11, loc="left")
    ax.set_ylabel("USD/month")
    ax.set_ylim(bottom=0)
    ax.spines[["top", "right"]].set_visible(False)
    fig.autofmt_xdate()
    return _svg(fig)


# -- the page ----------------------------------------------------------------------------------------
STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1d2733;
       background: #f4f6f8; }
header { background: #1d2733; color: #fff; padding: 18px 32px; }
header h1 { margin: 0; font-size: 22px; } header p { margin: 4px 0 0; color: #c6d0da; }
main { padding: 16px 32px 40px; }
.cards { display: flex; gap: 16px; flex-wrap: wrap; margin: 8px 0 16px; }
.card { background: #fff; border-radius: 8px; padding: 12px 18px; box-shadow: 0 1px 2px #0002; min-width: 170px; }
.card b { display: block; font-size: 24px; } .card span { color: #5b6b7b; font-size: 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 16px; }
section { background: #fff; border-radius: 8px; padding: 12px 18px; margin: 16px 0; box-shadow: 0 1px 2px #0002; }
section h2 { font-size: 16px; margin: 4px 0 10px; }
svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e3e8ed; vertical-align: top; }
th { background: #eef2f5; } td.num { text-align: right; white-space: nowrap; }
code { font-size: 12px; word-break: break-all; } .note { color: #5b6b7b; font-size: 12.5px; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _gib(mib: float | None) -> str:
    return "" if mib is None else f"{mib / 1024:,.1f}"


def _gpus(count: int | None, model: str | None) -> str:
    if not count:
        return "0"
    return f"{count} \u00d7 {_e(model or 'unknown model')}"


def _hardware_cells(row: dict[str, Any]) -> list[str]:
    """vCPUs, memory and GPUs of a VM finding; empty for disks and IPs, "unknown" for a VM whose type
    no source describes (capacity.add_hardware leaves its fields None)."""
    if row.get("kind") != "instance":
        return ["", "", ""]
    if row.get("vcpus") is None and row.get("memory_mib") is None:
        return ['<span class="note">unknown type</span>', "", ""]
    return [_e(row.get("vcpus")), _gib(row.get("memory_mib")), _gpus(row.get("gpus"), row.get("gpu_model"))]


def _models(gpus: dict[str, int]) -> str:
    return "<br>".join(f"{count} \u00d7 {_e(model)}" for model, count in sorted(gpus.items())) or "0"


def capacity_html(rows: Sequence[dict[str, Any]], total: dict[str, Any] | None) -> str:
    """The capacity table by project, with a total row: one <tr data-group=...> per project."""
    if not rows or total is None:
        return "<p>No running VMs.</p>"
    headers = ["project", "VMs", "vCPUs", "memory (GiB)", "GPUs", "orphan VMs", "orphan vCPUs",
               "orphan memory (GiB)", "orphan GPUs", "unverified VMs", "unverified vCPUs",
               "unverified memory (GiB)", "unverified GPUs", "orphan + unverified vCPU share", "VMs of unknown type"]
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for row in [*rows, total]:
        cells = [_e(row["vms"]), _e(row["vcpus"]), _gib(row["memory_mib"]), _models(row["gpus_by_model"]),
                 _e(row["orphan_vms"]), _e(row["orphan_vcpus"]), _gib(row["orphan_memory_mib"]),
                 _e(row["orphan_gpus"]), _e(row["unverified_vms"]), _e(row["unverified_vcpus"]),
                 _gib(row["unverified_memory_mib"]), _e(row["unverified_gpus"]),
                 f'{row["wasted_vcpu_share"] * 100:.1f}%', _e(row["unknown_vms"])]
        name = f"<b>{_e(row['group'])}</b>" if row is total else _e(row["group"])
        body.append(f'<tr data-group="{_e(row["group"]) if row is not total else ""}">'
                    f"<td>{name}</td>" + "".join(f'<td class="num">{c}</td>' for c in cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]], numeric: Iterable[int] = ()) -> str:
    nums = set(numeric)
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="num">{c}</td>' if i in nums else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(data: ReportData) -> str:
    orphans, unverified = data.orphans, data.unverified
    total = sum(r["est_monthly_cost_usd"] or 0.0 for r in orphans)
    by_provider, by_project = data.waste_by("provider"), data.waste_by("project")
    doubtful = data.doubtful_scopes()
    parts = [f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>graphinv waste report</title><style>{STYLE}</style></head><body>
<header><h1>graphinv waste report</h1>
<p>Generated {_e(data.generated.strftime('%Y-%m-%d %H:%M UTC'))} by graphinv {_e(__version__)}.
Costs are estimates from a list-price table (USD per month), not a bill.</p></header><main>
<div class="cards">
<div class="card" id="total-waste"><b>{total:,.0f} USD</b><span>estimated monthly waste</span></div>
<div class="card" id="orphan-count"><b>{len(orphans)}</b><span>orphans (VMs, disks, IPs)</span></div>
<div class="card" id="unverified-count"><b>{len(unverified)}</b><span>unverified candidates</span></div>
<div class="card" id="doubtful-scopes"><b>{len(doubtful)}</b><span>scopes failed or stale</span></div>
</div>"""]
    if orphans:
        parts.append('<div class="grid">'
                     f'<section id="waste-by-provider"><h2>Waste by provider</h2>'
                     f'{bar_chart(by_provider, "Estimated monthly waste by provider", "USD/month")}</section>'
                     f'<section id="waste-by-project"><h2>Waste by Gardener project</h2>'
                     f'{bar_chart(by_project, "Estimated monthly waste by project", "USD/month")}</section>'
                     '</div>'
                     f'<section id="age-distribution"><h2>Orphan age</h2>{age_chart(data.age_distribution())}'
                     '<p class="note">Age is from the resource\'s creation time (first sighting when the cloud '
                     'does not say).</p></section>')
    else:
        parts.append('<section id="waste-by-provider"><h2>Waste</h2><p>No orphans: nothing is wasted that '
                     'graphinv can prove.</p></section>')
    parts.append(f'<section id="trend"><h2>Waste over time</h2>{_trend_html(data.trend)}</section>')
    rows = [[_e(r["provider"]), _e(r["kind"]),
             f'{_e(r["name"])}<br><code>{_e(r["uid"])}</code>',
             f'{_e(r["account"])}<br>{_e(r["region"])}', _e(r.get("shoot")), _e(r.get("age_days")),
             *_hardware_cells(r), f'{(r["est_monthly_cost_usd"] or 0):,.2f}',
             f'{_e(r["reason"])}<br><span class="note">created {_e(r.get("created"))}; first seen '
             f'{_e(r.get("first_seen"))}</span>'] for r in data.costliest()]
    parts.append(f'<section id="costliest"><h2>The {len(rows)} costliest findings</h2>'
                 + (_table(["provider", "kind", "resource", "account / region", "shoot tag", "age (days)",
                            "vCPUs", "memory (GiB)", "GPUs", "USD/month", "evidence"], rows,
                           numeric=(5, 6, 7, 8, 9)) if rows else "<p>None.</p>")
                 + "<p class=\"note\">Evidence: the orphan rule that matched, from complete and recent reads of "
                   "the resource's own scope, the shoots and its seed's machines "
                   "(<code>graphinv orphans --format json</code> has every field). vCPUs, memory and GPUs "
                   "are the VM's machine type, from the cloud's catalogue or the Gardener CloudProfile.</p></section>")
    parts.append('<section id="capacity"><h2>Capacity by Gardener project</h2>'
                 + capacity_html(data.capacity, data.capacity_total)
                 + '<p class="note">What the running VMs hold, and how much of it orphan and unverified VMs '
                   "hold: the numbers of <code>graphinv capacity --by project</code> (the same function, fed "
                   "the orphan report's verdicts). VMs without a Gardener shoot count under "
                   "<code>(none)</code>; VMs of a type no source describes count as VMs, without hardware."
                   "</p></section>")
    scope_rows = [[f"<code>{_e(s['scope'])}</code>", _e(s["status"]), _e(s["last_complete"] or "never"),
                   _e(s["why"])] for s in doubtful]
    reason_rows = [[_e(reason), str(count)] for reason, count in data.unverified_reasons()]
    parts.append('<section id="unverified"><h2>Unverified: what graphinv could not judge, and why</h2>'
                 + ("<h3>Scopes whose reads failed or are stale</h3>"
                    + _table(["scope", "status", "last complete read", "why"], scope_rows) if scope_rows
                    else "<p>Every scope was read completely and recently.</p>")
                 + ("<h3>Unverified candidates by reason</h3>" + _table(["reason", "candidates"], reason_rows,
                                                                         numeric=(1,))
                    if reason_rows else "<p>No unverified candidates.</p>")
                 + "</section></main></body></html>\n")
    return "".join(parts)


def _trend_html(points: Sequence[tuple[datetime, float]]) -> str:
    if len(points) >= 2:
        return trend_chart(points) + (
            '<p class="note">From the orphan alerts\' recorded findings (when each opened and resolved). '
            "A finding that resolved and reopened counts from its latest opening.</p>")
    return ('<p id="no-trend">No trend yet: the trend is drawn from the findings the scheduled orphan alerts '
            "record (<code>graphinv scheduler start</code>, or <code>graphinv alerts run</code>), "
            f"{'and they span less than a day so far' if points else 'and none are recorded yet'}. "
            "It fills in as the scheduler runs; the change history will add what each collection "
            "created and deleted.</p>")
