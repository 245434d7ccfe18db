"""`graphinv alerts list`, `graphinv alerts run NAME [--dry-run]`, `graphinv alerts findings NAME`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from graphinv.alerts.catalog import find_alert, load_alerts
from graphinv.alerts.definition import AlertDefinition, AlertError
from graphinv.alerts.runner import AlertRunner
from graphinv.alerts.settings import AlertSettings
from graphinv.alerts.sinks import build_sinks, finding_line
from graphinv.alerts.store import AlertStore
from graphinv.commands.common import config, connected, emit, fail, out
from graphinv.metrics import Metrics
from graphinv.scheduler.logs import FORMATS, configure_logging
from graphinv.settings.root import Settings

app = typer.Typer(help="List and run scheduled Cypher alert scripts.", no_args_is_help=True)

EXIT_RUN_FAILED = 1


def _load(cfg: Settings) -> tuple[AlertSettings, dict[str, AlertDefinition]]:
    try:
        settings = cfg.alert_settings()
        return settings, load_alerts(settings.dirs, settings.disabled)
    except AlertError as exc:
        fail(str(exc))


@app.command("list")
def list_command(
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or csv")] = "table",
) -> None:
    """The shipped and your own alerts: schedule, severity, what counts as a finding."""
    _, alerts = _load(config())
    rows = [{
        "name": a.name, "severity": a.severity, "schedule": a.schedule.describe(),
        "sources": ", ".join(a.sources), "threshold": a.threshold.describe(),
        "key": ", ".join(a.key) or "uid", "sinks": ", ".join(a.sinks) or "all", "origin": a.origin,
        "description": a.description,
    } for a in alerts.values()]
    emit(rows, fmt, ["name", "severity", "schedule", "sources", "threshold", "sinks", "description"]
         if fmt == "table" else None, title=f"{len(rows)} alerts")


@app.command()
def run(
    name: Annotated[str, typer.Argument(help="alert name (see `graphinv alerts list`)")],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="show the findings and which are new; record and send nothing")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or csv")] = "table",
    log_format: Annotated[str, typer.Option("--log-format", help="text or json")] = "text",
) -> None:
    """Run one alert now: record its findings and notify the sinks of the new ones (as the scheduler does)."""
    if log_format not in FORMATS:
        fail(f"--log-format must be one of {', '.join(FORMATS)}")
    configure_logging(log_format, "warning")
    cfg = config()
    settings, alerts = _load(cfg)
    try:
        alert = find_alert(alerts, name)
    except AlertError as exc:
        fail(str(exc))
    with connected(cfg) as graph:
        if not dry_run:
            AlertStore(graph).ensure_schema()
        runner = AlertRunner(graph, settings, [] if dry_run else build_sinks(settings.sinks), Metrics())
        unknown = set(alert.sinks) - {s.name for s in runner.sinks}
        if unknown and not dry_run:
            fail(f"alert {name} names unknown sink(s): {', '.join(sorted(unknown))}")
        outcome = runner.run(alert, dry_run=dry_run)
    if outcome.status != "complete":
        fail(f"alert {name} failed: {outcome.error}", EXIT_RUN_FAILED)
    new = set(outcome.new)
    rows: list[dict[str, Any]] = [{"new": "yes" if f.key in new else "", "key": f.key, "finding": finding_line(
        {"key": f.key, "data": f.data})} if fmt == "table" else {"new": f.key in new, "key": f.key, **f.data}
        for f in outcome.findings]
    emit(rows, fmt, ["new", "key", "finding"] if fmt == "table" else None, title=f"{name}: {len(rows)} findings")
    if fmt == "table":
        verb = "would be" if dry_run else "were"
        sent = ", ".join(f"{sink}: {n}" for sink, n in outcome.delivered.items()) or "none"
        out.print(f"{len(outcome.new)} new, {len(outcome.resolved)} resolved; {outcome.rows} rows. "
                  f"New findings {verb} announced{'' if dry_run else f' (sent per sink: {sent})'}.", highlight=False)
        if outcome.failed_sinks:
            out.print(f"[red]delivery failed[/] for: {', '.join(outcome.failed_sinks)} (retried on the next run)")


@app.command()
def findings(
    name: Annotated[str, typer.Argument(help="alert name")],
    include_resolved: Annotated[bool, typer.Option("--all", help="resolved findings too")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or csv")] = "table",
) -> None:
    """The findings an alert has recorded: when each opened, was last seen, and which sinks were told."""
    cfg = config()
    with connected(cfg) as graph:
        rows = AlertStore(graph).findings(name, include_resolved)
    if fmt == "table":
        rows = [{**r, "finding": finding_line(r)} for r in rows]
    emit(rows, fmt, ["key", "resolved", "opened", "last_seen", "notified", "finding"] if fmt == "table" else
         ["key", "resolved", "opened", "last_seen", "resolved_at", "notified", "data"], title=f"{name}: findings")


if __name__ == "__main__":
    app()
