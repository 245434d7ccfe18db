"""The `graphinv` command line: one typer app; each concern lives in graphinv/commands/."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from graphinv import __version__
from graphinv.commands import alerts as alerts_cmd
from graphinv.commands import capacity as capacity_cmd
from graphinv.commands import collect as collect_cmd
from graphinv.commands import config as config_cmd
from graphinv.commands import demo as demo_cmd
from graphinv.commands import history as history_cmd
from graphinv.commands import inventory as inventory_cmd
from graphinv.commands import neo4j as neo4j_cmd
from graphinv.commands import orphans as orphans_cmd
from graphinv.commands import scheduler as scheduler_cmd
from graphinv.commands import serve as serve_cmd
from graphinv.commands import sim as sim_cmd
from graphinv.commands import watch as watch_cmd
from graphinv.commands import worker as worker_cmd
from graphinv.commands.common import State, out
from graphinv.commands.errors import ErrorReportingGroup

app = typer.Typer(
    help="graphinv: which cloud resources belong to which Gardener project, shoot and machine, "
    "and which belong to nobody.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=ErrorReportingGroup,
)


def _version(value: bool) -> None:
    if value:
        out.print(f"graphinv {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="YAML config file (default: $GRAPHINV_CONFIG or ./graphinv.yaml)")] = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show the traceback of an error, not just its one-line explanation.")] = False,
) -> None:
    State.config_path = config


app.add_typer(neo4j_cmd.app, name="neo4j")
app.command()(collect_cmd.collect)
app.add_typer(history_cmd.orphans_app, name="orphans")  # the report, plus `orphans ack`
app.command()(orphans_cmd.query)
app.command()(history_cmd.changes)
app.command()(history_cmd.history)
app.command("deliver-changes")(history_cmd.deliver_changes)
app.command()(collect_cmd.stats)
app.command()(demo_cmd.demo)
app.command()(serve_cmd.serve)
app.add_typer(sim_cmd.sim_app, name="sim")
app.add_typer(scheduler_cmd.app, name="scheduler")
app.add_typer(alerts_cmd.app, name="alerts")
app.add_typer(config_cmd.app, name="config")
app.command("ansible-inventory")(inventory_cmd.ansible_inventory)
app.command()(inventory_cmd.export)
app.command()(watch_cmd.watch)
app.command()(worker_cmd.worker)
app.command()(inventory_cmd.report)
app.command("capacity")(capacity_cmd.capacity_command)

def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
