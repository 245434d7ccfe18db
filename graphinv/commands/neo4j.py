"""`graphinv neo4j ...`: a local Neo4j 5.26 without Docker, and the schema."""

from __future__ import annotations

import time

import typer

from graphinv.commands.common import config, connected, fail, out
from graphinv.ingest import install_schema
from graphinv.ingest.schema import schema_summary
from graphinv.neo4j_server import LocalNeo4j, LocalNeo4jError

app = typer.Typer(help="Run a local Neo4j 5.26 server without Docker; install the schema.", no_args_is_help=True)


def _local() -> LocalNeo4j:
    return LocalNeo4j(config().local_neo4j)


@app.command("install")
def install() -> None:
    """Fetch Neo4j's jars with Maven into the cache (start does this on its own)."""
    server = _local()
    try:
        spent = server.install()
    except LocalNeo4jError as exc:
        fail(str(exc))
    out.print(f"Neo4j jars in {server.lib_dir}" + (f" (resolved in {spent:.1f} s)" if spent else " (cached)"))


@app.command("start")
def start() -> None:
    """Start the local server (no-op when it already runs) and wait until Bolt answers."""
    server = _local()
    started = time.monotonic()
    try:
        status = server.start()
    except LocalNeo4jError as exc:
        fail(str(exc))
    out.print(f"Neo4j {status.describe()} [{time.monotonic() - started:.1f} s]", highlight=False)


@app.command("stop")
def stop() -> None:
    """Stop the local server cleanly (SIGTERM, wait for shutdown)."""
    stopped = _local().stop()
    out.print("Neo4j stopped" if stopped else "Neo4j was not running")


@app.command("status")
def status() -> None:
    """Tell whether the local server runs; exit code 0 if it does, 3 if not."""
    current = _local().status()
    out.print(f"Neo4j {current.describe()}", highlight=False)
    if not current.running:
        raise typer.Exit(3)


@app.command("install-schema")
def install_schema_command() -> None:
    """Create the constraints and indexes the graph model declares (idempotent)."""
    with connected() as graph:
        install_schema(graph)
        summary = schema_summary(graph)
    out.print(f"schema installed: {summary['constraints']} constraints, {summary['indexes']} indexes")
