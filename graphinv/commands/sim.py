"""The simulator seen from the product CLI: `graphinv sim` and `graphinv demo` need the `sim` extra.

graphinv.sim is a test and demo harness (moto's server, TLS certificates for a fake garden). A plain
`pip install graphinv` leaves its dependencies out, so the CLI imports it only when one of those two
commands runs, after checking that the extra is there; without it they say how to install it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import typer
from typer import _click  # the click that typer's groups are built on
from typer.core import TyperGroup

# Top-level modules of the `sim` extra in pyproject.toml: moto[server] (moto, and flask for its
# server) and cryptography. tests/test_packaging.py keeps this list and the extra in step.
SIM_EXTRA_MODULES = ("moto", "flask", "cryptography")
INSTALL_HINT = "pip install 'graphinv[sim]'"


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_simulator_module() -> str | None:
    """The first module of the simulator or its extra that cannot be imported, or None."""
    for module in SIM_EXTRA_MODULES:
        if not _importable(module):
            return module
    try:
        importlib.import_module("graphinv.sim.runtime")
    except ModuleNotFoundError as exc:
        return exc.name or "graphinv.sim"
    return None


def require_simulator(command: str) -> None:
    """Exit 2 with one line on stderr saying how to install the extra when `command` cannot run."""
    missing = missing_simulator_module()
    if missing is not None:
        sys.stderr.write(f"error: `{command}` needs the simulator, which is not installed "
                         f"(no module {missing!r}); install it with: {INSTALL_HINT}\n")
        raise typer.Exit(2)


class SimGroup(TyperGroup):
    """`graphinv sim`: its commands are graphinv.sim.cli's, imported the first time the group is used,
    so that `graphinv --help` and every other command run without the simulator installed."""

    _loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        require_simulator("graphinv sim")
        from graphinv.sim.cli import sim_app

        real = typer.main.get_group(sim_app)
        self.commands.update(real.commands)
        self._loaded = True

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        # Every use of `graphinv sim` parses its arguments first, before click resolves a sub-command
        # or lists them for --help; `graphinv --help` only shows this group's own help line.
        self._load()
        return super().parse_args(ctx, args)

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        self._load()  # also asked without parsing first (shell completion, documentation checks)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: _click.Context) -> list[str]:
        self._load()
        return super().list_commands(ctx)


# What cli.py mounts as `sim`: empty until SimGroup loads the simulator's commands.
sim_app = typer.Typer(cls=SimGroup, no_args_is_help=True,
                      help="Generate and serve simulated landscapes (for demos, tests, benchmarks).")
