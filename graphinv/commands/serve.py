"""`graphinv serve`: the GraphQL API (GraphiQL in the browser at /graphql) on uvicorn."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from graphinv.api.settings import require_token_off_loopback
from graphinv.commands.common import State, config, err, fail, out
from graphinv.db import Graph, GraphUnavailable
from graphinv.settings.types import ConfigError

MAX_DEFAULT_WORKERS = 8


def default_workers() -> int:
    """One worker per CPU this process may run on: GraphQL requests are CPU-bound in Python."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_DEFAULT_WORKERS))


def worker_app() -> object:
    """The app of one worker process (uvicorn calls this in each worker): the configuration from
    $GRAPHINV_CONFIG and the environment, like the parent read it."""
    from graphinv.api.app import create_app
    from graphinv.settings.load import load_settings

    cfg = load_settings()
    return create_app(Graph(cfg.neo4j), cfg.api, orphans=cfg.orphans, history=cfg.history)


def serve(
    host: Annotated[str | None, typer.Option(
        help="address to listen on (default: api.host or 127.0.0.1); any other than loopback requires "
             "api.token_file or api.token")] = None,
    port: Annotated[int | None, typer.Option(help="port (default: api.port or 8000)")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level: critical, error, warning, info, debug")] = "info",
    workers: Annotated[int | None, typer.Option(
        help="worker processes, each with its own event loop and Neo4j driver (default: one per CPU, at most "
             f"{MAX_DEFAULT_WORKERS})")] = None,
) -> None:
    """Serve the read-only GraphQL API: /graphql (GraphiQL in a browser), /healthz, /readyz."""
    import uvicorn  # here, not at the top: `graphinv --help` should not load the web stack

    from graphinv.api.app import create_app

    if workers is not None and workers < 1:
        fail("--workers must be at least 1")
    count = workers or default_workers()
    cfg = config()
    try:
        settings = cfg.api.model_copy()
        if host:
            settings.host = host
        if port:
            settings.port = port
        token = require_token_off_loopback(settings)
    except ConfigError as exc:
        fail(str(exc))
    graph = Graph(cfg.neo4j)
    try:
        try:
            app = create_app(graph, settings, orphans=cfg.orphans, history=cfg.history)
        except ConfigError as exc:
            fail(str(exc))
        try:
            graph.verify()
        except GraphUnavailable as exc:
            # Serve anyway: /readyz says 503 until Neo4j is back, which is what an orchestrator wants.
            err.print(f"[yellow]warning:[/] {exc}; serving anyway, /readyz answers 503 until it is reachable")
        shown = f"[{settings.host}]" if ":" in settings.host else settings.host
        out.print(f"GraphQL API on http://{shown}:{settings.port}/graphql "
                  f"({'bearer token required' if token else 'no authentication'})")
        if count == 1:
            uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level)
            return
        out.print(f"{count} worker processes")
        if State.config_path is not None:  # the workers read the same file
            os.environ["GRAPHINV_CONFIG"] = str(State.config_path.expanduser().resolve())
        uvicorn.run("graphinv.commands.serve:worker_app", factory=True, workers=count, host=settings.host,
                    port=settings.port, log_level=log_level)
    finally:
        graph.close()


if __name__ == "__main__":
    typer.run(serve)
