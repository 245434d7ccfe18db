"""`graphinv scheduler start` and `graphinv scheduler jobs`."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from dataclasses import replace
from types import FrameType
from typing import Annotated, Any

import httpx
import typer

from graphinv.alerts.catalog import load_alerts
from graphinv.alerts.definition import AlertError
from graphinv.alerts.settings import AlertSettings
from graphinv.commands.common import config, connected, emit, fail, out
from graphinv.db import Graph
from graphinv.scheduler.logs import FORMATS, configure_logging
from graphinv.scheduler.service import SchedulerService, default_planner, import_collectors
from graphinv.scheduler.settings import SchedulerSettings
from graphinv.settings.root import Settings
from graphinv.settings.types import ConfigError

app = typer.Typer(help="Run collectors and alert scripts on schedules; `graphinv collect` stays the one-shot.",
                  no_args_is_help=True)

EXIT_UNCLEAN_SHUTDOWN = 3
JOB_COLUMNS = ["id", "type", "schedule", "next_run", "last_status", "last_finished", "what"]


def _settings(cfg: Settings) -> tuple[SchedulerSettings, AlertSettings, dict[str, Any]]:
    settings = cfg.scheduler_settings()
    alert_settings = cfg.alert_settings()
    try:
        alerts = load_alerts(alert_settings.dirs, alert_settings.disabled) if settings.alerts else {}
    except AlertError as exc:
        fail(str(exc))
    return settings, alert_settings, alerts


@app.command()
def start(
    log_format: Annotated[str, typer.Option("--log-format", help="text or json (one JSON object per line)")] = "text",
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error")] = "info",
    metrics_port: Annotated[int | None, typer.Option(
        help="port of /metrics, /healthz, /readyz, /jobs (default: scheduler.metrics.port or 9100; 0 = any free)",
    )] = None,
    metrics_host: Annotated[str | None, typer.Option(help="address to bind (default: 127.0.0.1)")] = None,
    no_metrics: Annotated[bool, typer.Option("--no-metrics", help="serve no HTTP endpoint")] = False,
    distributed: Annotated[bool, typer.Option("--distributed", help="enqueue scope tasks on the Redis queue "
                                              "(`queue:`) for `graphinv worker` processes instead of reading "
                                              "here; see docs/scaling.md")] = False,
) -> None:
    """Run the scheduler until SIGTERM or Ctrl-C. A running collection gives up its unfinished scopes
    (they are marked failed and nothing is swept), then the process exits."""
    if log_format not in FORMATS:
        fail(f"--log-format must be one of {', '.join(FORMATS)}")
    configure_logging(log_format, log_level)
    log = logging.getLogger("graphinv.scheduler")
    cfg = config()
    settings, alert_settings, alerts = _settings(cfg)
    if not settings.jobs:
        fail("nothing to schedule: configure at least one source under `sources:` (see docs/scheduler.md)")
    endpoint = settings.metrics
    endpoint = replace(endpoint, enabled=endpoint.enabled and not no_metrics,
                       port=endpoint.port if metrics_port is None else metrics_port,
                       host=metrics_host or endpoint.host)
    settings = replace(settings, metrics=endpoint)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    import_collectors(cfg.sources)
    with connected(cfg) as graph:
        try:
            service = SchedulerService(graph, settings, default_planner(cfg.sources), alert_settings, alerts,
                                       history=cfg.history)
        except ConfigError as exc:
            fail(str(exc))
        watch_settings = getattr(cfg, "watch", None)
        if watch_settings is not None and watch_settings.enabled and cfg.sources.gardener is not None:
            from graphinv.watch.service import WatchService

            service.use_watches(WatchService(graph, cfg.sources, watch_settings, service.metrics))
        if distributed or cfg.queue.distributed:
            from graphinv.distributed.job import distribute
            from graphinv.distributed.tasks import ScopeQueue

            try:
                cfg.queue.redis_url()
            except ValueError as exc:
                fail(str(exc))
            distribute(service, ScopeQueue(cfg.queue))
            log.info("distributed: scope tasks go to queue %s on %s", cfg.queue.queue_name, cfg.queue.where())
        try:
            service.start()
        except OSError as exc:  # the metrics port is taken
            fail(f"cannot serve metrics on {endpoint.host}:{endpoint.port}: {exc.strerror}")
        if service.status:
            # One machine-readable line, so wrappers and tests learn the port when it was 0.
            print(json.dumps({"event": "started", "metrics": service.status.url}), flush=True)
        while not done.wait(1.0):
            pass
        log.info("stopping: running collections give up their unfinished scopes")
        clean = service.shutdown()
    if not clean:
        logging.shutdown()
        sys.stdout.flush()
        # Reader threads stuck in a network call would keep the interpreter alive; their scopes
        # stay `running` in the graph (nothing was swept) and the next run takes them over.
        os._exit(EXIT_UNCLEAN_SHUTDOWN)
    log.info("stopped")


@app.command()
def jobs(
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or csv")] = "table",
    live: Annotated[bool, typer.Option("--live/--from-config",
                                       help="ask the running scheduler (its /jobs endpoint) first")] = True,
) -> None:
    """List the scheduled jobs and their next run times (from the running scheduler when it answers)."""
    cfg = config()
    settings, alert_settings, alerts = _settings(cfg)
    if live and settings.metrics.enabled:
        rows = _live_jobs(settings)
        if rows is not None:
            emit(rows, fmt, JOB_COLUMNS, title="jobs of the running scheduler")
            return
    graph = Graph(cfg.neo4j)  # the driver connects lazily; nothing here talks to Neo4j
    try:
        service = SchedulerService(graph, settings, default_planner(cfg.sources), alert_settings, alerts,
                                   history=cfg.history)
        rows = service.job_table()
    except ConfigError as exc:
        fail(str(exc))
    finally:
        graph.close()
    emit(rows, fmt, JOB_COLUMNS, title="jobs (from the config; the scheduler is not running)")
    if fmt == "table" and not rows:
        out.print("no jobs: configure sources under `sources:`")


def _live_jobs(settings: SchedulerSettings) -> list[dict[str, Any]] | None:
    host = "127.0.0.1" if settings.metrics.host in ("0.0.0.0", "::", "") else settings.metrics.host
    try:
        response = httpx.get(f"http://{host}:{settings.metrics.port}/jobs", timeout=2.0)
        rows = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    if isinstance(rows, list) and all(isinstance(r, dict) and "id" in r for r in rows):
        return rows
    return None  # something else listens on that port (9100 is also node_exporter's default)


if __name__ == "__main__":  # `python -m graphinv.commands.scheduler start` (config from $GRAPHINV_CONFIG)
    app()
