"""`graphinv serve`: the GraphQL API (GraphiQL in the browser at /graphql) on uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from graphinv.api.settings import require_token_off_loopback
from graphinv.commands.common import config, err, fail, out
from graphinv.db import Graph, GraphUnavailable
from graphinv.settings.types import ConfigError


def serve(
    host: Annotated[str | None, typer.Option(
        help="address to listen on (default: api.host or 127.0.0.1); any other than loopback requires "
             "api.token_file or api.token")] = None,
    port: Annotated[int | None, typer.Option(help="port (default: api.port or 8000)")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level: critical, error, warning, info, debug")] = "info",
) -> None:
    """Serve the read-only GraphQL API: /graphql (GraphiQL in a browser), /healthz, /readyz."""
    import uvicorn  # here, not at the top: `graphinv --help` should not load the web stack

    from graphinv.api.app import create_app

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
        uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level)
    finally:
        graph.close()


if __name__ == "__main__":
    typer.run(serve)
