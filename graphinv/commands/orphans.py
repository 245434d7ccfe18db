"""`graphinv orphans` and `graphinv query`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from graphinv.commands.common import config, connected, emit, fail, out
from graphinv.orphan_settings import KINDS
from graphinv.orphans import OrphanFilter, orphan_report, stale_data_refusal, unowned_report
from graphinv.queries import QueryError, load_query, load_query_file, parse_param, shipped_queries
from graphinv.settings.types import CLOUD_PROVIDERS, parse_duration

COLUMNS = ["verdict", "provider", "kind", "uid", "name", "account", "region", "zone", "state", "shoot",
           "project", "size_gb", "vcpus", "memory_mib", "gpus", "gpu_model",
           "age_days", "est_monthly_cost_usd", "reason", "created", "first_seen",
           "orphan_since", "orphan_days", "evidence", "ack"]
# What fits a terminal; json and csv get every column.
TABLE_COLUMNS = ["verdict", "provider", "kind", "name", "account", "region", "state", "shoot", "age_days",
                 "est_monthly_cost_usd", "orphan_days", "reason", "ack"]
EXIT_FOUND = 1


def orphans(
    provider: Annotated[str | None, typer.Option(help="aws, gcp, azure or openstack")] = None,
    kind: Annotated[str | None, typer.Option(help="instance, disk or ip")] = None,
    older_than: Annotated[str | None, typer.Option(help="only resources older than this, e.g. 7d, 12h")] = None,
    account: Annotated[str | None, typer.Option(help="one cloud account / project / subscription id")] = None,
    project: Annotated[str | None, typer.Option(help="one Gardener project")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or csv")] = "table",
    max_staleness: Annotated[str | None, typer.Option(
        help="collections older than this cannot prove an orphan (default: orphans.max_staleness or 6h)")] = None,
    unverified: Annotated[bool, typer.Option(
        "--unverified/--no-unverified", help="also list candidates that could not be verified")] = True,
    informational: Annotated[bool, typer.Option(help="also list unattached disks of live shoots")] = False,
    unowned: Annotated[bool, typer.Option(help="report resources with no shoot's tag at all instead")] = False,
    exit_zero: Annotated[bool, typer.Option(help="exit 0 even when orphans were found")] = False,
) -> None:
    """Print orphaned VMs, disks and IPs. Exit code 0: none, 1: orphans found, 2: error or stale data."""
    if provider and provider not in CLOUD_PROVIDERS:
        fail(f"--provider must be one of {', '.join(CLOUD_PROVIDERS)}")
    if kind and kind not in KINDS:
        fail(f"--kind must be one of {', '.join(KINDS)}")
    cfg = config()
    try:
        filt = OrphanFilter(
            provider=provider, kind=kind, account=account, project=project,
            older_than=parse_duration(older_than) if older_than else None,
            max_staleness=parse_duration(max_staleness) if max_staleness else cfg.orphans.max_staleness,
        )
        prices = cfg.orphans.price_table()
    except (ValueError, OSError) as exc:
        fail(str(exc))
    with connected(cfg) as graph:
        if unowned:
            rows = unowned_report(graph, filt, prices)
        else:
            _refuse_stale(graph, filt)
            rows = orphan_report(graph, filt, prices, include_informational=informational)
    if not unverified:
        rows = [r for r in rows if r["verdict"] != "unverified"]
    found = [r for r in rows if r["verdict"] == "orphan"]
    emit(rows, fmt, TABLE_COLUMNS if fmt == "table" else COLUMNS,
         title="orphans (est_monthly_cost_usd is an estimate from a list-price table)")
    if fmt == "table":
        total = sum(r["est_monthly_cost_usd"] or 0 for r in found)
        doubtful = sum(1 for r in rows if r["verdict"] == "unverified")
        out.print(f"{len(found)} orphans (estimated {total:,.2f} USD/month), {doubtful} unverified candidates")
    if found and not exit_zero and not unowned:
        raise typer.Exit(EXIT_FOUND)


def _refuse_stale(graph: Any, filt: OrphanFilter) -> None:
    """No complete and recent read of the asked-for provider at all: say so instead of an empty list."""
    refusal = stale_data_refusal(graph, filt)
    if refusal:
        fail(refusal)


def query(
    name: Annotated[str | None, typer.Argument(help="a query from `--list`")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="key=value, repeatable")] = None,
    file: Annotated[str | None, typer.Option("--file", help="run your own .cypher file instead")] = None,
    list_queries: Annotated[bool, typer.Option("--list", help="list the shipped queries")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or csv")] = "table",
) -> None:
    """Run a named query from queries/ (or your own file) and print its rows."""
    if list_queries:
        rows = [{"name": q.name, "params": ", ".join(q.params), "description": q.description}
                for q in shipped_queries().values()]
        emit(rows, fmt, ["name", "params", "description"])
        return
    try:
        named = load_query_file(file) if file else load_query(name or "")
        params = dict(parse_param(p) for p in param or [])
        bound = named.bind(params)
    except QueryError as exc:
        fail(str(exc))
    with connected() as graph:
        rows = graph.run_read(named.text, bound)
    emit(rows, fmt, title=named.name)
