"""The `graphinv` command line: one typer app; each concern lives in graphinv/commands/."""

from __future__ import annotations

import gc
import importlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from graphinv import __version__
from graphinv.commands.common import State, out
from graphinv.commands.errors import ErrorReportingGroup

# Every command: its name, the module that defines it, and the typer app or function in that module.
# A command's module is imported only when that command runs (or when the help lists them all), so
# `graphinv orphans` does not pay for the scheduler, the GraphQL server or the cloud SDKs.
COMMANDS: dict[str, tuple[str, str]] = {
    "neo4j": ("graphinv.commands.neo4j", "app"),
    "collect": ("graphinv.commands.collect", "collect"),
    "orphans": ("graphinv.commands.history", "orphans_app"),  # the report, plus `orphans ack`
    "query": ("graphinv.commands.orphans", "query"),
    "changes": ("graphinv.commands.history", "changes"),
    "history": ("graphinv.commands.history", "history"),
    "deliver-changes": ("graphinv.commands.history", "deliver_changes"),
    "stats": ("graphinv.commands.collect", "stats"),
    "demo": ("graphinv.commands.demo", "demo"),
    "serve": ("graphinv.commands.serve", "serve"),
    "sim": ("graphinv.commands.sim", "sim_app"),
    "scheduler": ("graphinv.commands.scheduler", "app"),
    "alerts": ("graphinv.commands.alerts", "app"),
    "config": ("graphinv.commands.config", "app"),
    "ansible-inventory": ("graphinv.commands.inventory", "ansible_inventory"),
    "export": ("graphinv.commands.inventory", "export"),
    "watch": ("graphinv.commands.watch", "watch"),
    "worker": ("graphinv.commands.worker", "worker"),
    "report": ("graphinv.commands.inventory", "report"),
    "capacity": ("graphinv.commands.capacity", "capacity_command"),
}


def load_command(name: str) -> Any:
    """The click command `name` of COMMANDS, built exactly as `app.command(name)` or
    `app.add_typer(..., name=name)` on the root app would build it."""
    module, attr = COMMANDS[name]
    target = getattr(importlib.import_module(module), attr)
    holder = typer.Typer(add_completion=False)
    holder.callback()(lambda: None)  # a group, whatever it holds
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target)
    group: TyperGroup = typer.main.get_group(holder)
    return group.commands[name]


def resume_garbage_collection() -> None:
    """Once a command's module has loaded: the garbage collector the `graphinv` command held back while
    starting runs again, over the objects made from now on (graphinv/__main__.py says why). A process
    that never held it back (a test calling the CLI in-process) is left as it is."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


class LazyCommands(ErrorReportingGroup):
    """The root group: commands from COMMANDS, each loaded on first use. (Typer vendors its own
    click, hence `Any` for click's Context and Command.)"""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.commands[cmd_name] = load_command(cmd_name)
            resume_garbage_collection()
        return self.commands.get(cmd_name)


app = typer.Typer(
    help="graphinv: which cloud resources belong to which Gardener project, shoot and machine, "
    "and which belong to nobody.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=LazyCommands,
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



def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
