"""`graphinv collect` and `graphinv stats`."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table

from collectors.scope import Scope
from graph_schema.surfaces import INVENTORY_CLASSES, is_cloud
from graphinv.collect import CollectionSummary, run_tasks
from graphinv.commands.common import config, connected, emit, fail, out
from graphinv.db import Graph
from graphinv.ingest import Ingest, install_schema
from graphinv.orphans import freshness
from graphinv.settings.root import Settings
from graphinv.sources import SourceError, plan_sources

EXIT_SCOPES_FAILED = 4

# One label at a time, so every part is a count-store lookup or a label scan, never all nodes.
STATS_QUERY = "\nUNION ALL\n".join(
    f"MATCH (n:{cls.__label__}) RETURN '{cls.__label__}' AS label, "
    f"{'n.provider' if is_cloud(cls) else repr('gardener')} AS provider, count(n) AS count"
    for cls in INVENTORY_CLASSES
)


def collect_into(graph: Graph, cfg: Settings, sources: list[str], concurrency: int | None = None,
                 show_progress: bool = True) -> CollectionSummary:
    try:
        tasks = plan_sources(cfg.sources, sources)
    except SourceError as exc:
        fail(str(exc))
    install_schema(graph)
    state: dict[str, tuple[str, int]] = {}

    def render() -> Table:
        table = Table(title=f"collecting {len(tasks)} scopes", header_style="bold")
        for column in ("scope", "status", "records"):
            table.add_column(column)
        for key, (status, count) in sorted(state.items()):
            style = {"complete": "green", "failed": "red"}.get(status, "yellow")
            table.add_row(key, f"[{style}]{status}[/]", str(count))
        return table

    ingest = Ingest(graph, capture_changes=cfg.history.enabled)
    workers = concurrency or _concurrency(cfg)
    if not show_progress:
        return run_tasks(ingest, tasks, concurrency=workers)
    with Live(render(), console=out.console, refresh_per_second=4, transient=False) as live:
        def progress(scope: Scope, status: str, count: int) -> None:
            state[scope.key] = (status, count)
            live.update(render())

        return run_tasks(ingest, tasks, concurrency=workers, progress=progress)


def _concurrency(cfg: Settings) -> int:
    return cfg.collect.concurrency


def print_summary(summary: CollectionSummary) -> None:
    complete = len(summary.results) - len(summary.failed)
    out.print(f"{complete} scopes complete, {len(summary.failed)} failed; "
              f"{summary.written} records written, {summary.swept} stale nodes swept")
    for failed in summary.failed:
        out.print(f"  [red]failed[/] {failed.scope.key}: {failed.error}", highlight=False)


def collect(
    sources: Annotated[list[str] | None, typer.Argument(
        help="gardener, aws, gcp, azure, openstack (default: all configured)")] = None,
    concurrency: Annotated[int | None, typer.Option(
        help="scopes read at once (default: collect.concurrency or 8)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress display")] = False,
) -> None:
    """Collect the configured sources into the graph once. Exit code 4 when any scope failed."""
    logging.basicConfig(level=logging.WARNING)
    cfg = config()
    with connected(cfg) as graph:
        summary = collect_into(graph, cfg, sources or [], concurrency, show_progress=not quiet)
    print_summary(summary)
    if summary.aborted:
        fail(f"{summary.aborted}. {len(summary.failed)} scope(s) were not finished and nothing of them was "
             "swept; check that Neo4j is up and collect again (their Collection records are set failed then).")
    if summary.failed:
        raise typer.Exit(EXIT_SCOPES_FAILED)


def stats(
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or csv")] = "table",
) -> None:
    """Counts per label and provider, and each scope's last complete collection."""
    with connected() as graph:
        counts = graph.run_read(STATS_QUERY)
        scopes = freshness(graph)
    emit(counts, fmt, ["label", "provider", "count"], title="nodes")
    emit(scopes, fmt, ["scope", "status", "last_complete", "last_run", "written", "swept", "error"],
         title="scopes (oldest complete read first)")
