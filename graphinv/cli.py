"""The `graphinv` command line: one typer app, one sub-app per concern."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from graphinv import __version__
from graphinv.config import Config, ConfigError, load_config
from graphinv.neo4j_server import LocalNeo4j, LocalNeo4jError

app = typer.Typer(
    help="graphinv: which cloud resources belong to which Gardener project, shoot and machine, "
    "and which belong to nobody.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
neo4j_app = typer.Typer(help="Run a local Neo4j 5.26 server without Docker.", no_args_is_help=True)
app.add_typer(neo4j_app, name="neo4j")

out = Console()
err = Console(stderr=True)


class State:
    config_path: Path | None = None


def _config() -> Config:
    try:
        return load_config(State.config_path)
    except ConfigError as exc:
        fail(str(exc))
        raise  # unreachable; keeps type checkers content


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        out.print(f"graphinv {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML config file (default: $GRAPHINV_CONFIG or ./graphinv.yaml)")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    State.config_path = config


# -- neo4j ------------------------------------------------------------------------------------
def _local() -> LocalNeo4j:
    return LocalNeo4j(_config().local_neo4j)


@neo4j_app.command("install")
def neo4j_install() -> None:
    """Fetch Neo4j's jars with Maven into the cache (start does this on its own)."""
    server = _local()
    try:
        spent = server.install()
    except LocalNeo4jError as exc:
        fail(str(exc))
    out.print(f"Neo4j jars in {server.lib_dir}" + (f" (resolved in {spent:.1f} s)" if spent else " (cached)"))


@neo4j_app.command("start")
def neo4j_start() -> None:
    """Start the local server (no-op when it already runs) and wait until Bolt answers."""
    server = _local()
    started = time.monotonic()
    try:
        status = server.start()
    except LocalNeo4jError as exc:
        fail(str(exc))
    out.print(f"Neo4j {status.describe()} [{time.monotonic() - started:.1f} s]", highlight=False)


@neo4j_app.command("stop")
def neo4j_stop() -> None:
    """Stop the local server cleanly (SIGTERM, wait for shutdown)."""
    stopped = _local().stop()
    out.print("Neo4j stopped" if stopped else "Neo4j was not running")


@neo4j_app.command("status")
def neo4j_status() -> None:
    """Tell whether the local server runs; exit code 0 if it does, 3 if not."""
    status = _local().status()
    out.print(f"Neo4j {status.describe()}", highlight=False)
    if not status.running:
        raise typer.Exit(3)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
