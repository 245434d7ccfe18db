"""`graphinv config check` and `graphinv config show`: the configuration as graphinv reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from graphinv.commands.common import State, err, fail
from graphinv.settings.load import load_settings
from graphinv.settings.root import Settings
from graphinv.settings.types import ConfigError

app = typer.Typer(help="Validate the configuration, or print it as graphinv reads it.", no_args_is_help=True)

EXIT_INVALID = 2
ConfigOption = Annotated[Path | None, typer.Option(
    "--config", "-c", help="the file to read (default: graphinv's --config, $GRAPHINV_CONFIG or ./graphinv.yaml)")]


def _load(path: Path | None) -> Settings:
    try:
        return load_settings(path or State.config_path)
    except ConfigError as exc:
        for line in str(exc).splitlines():
            err.print(f"[bold red]error:[/] {line}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(EXIT_INVALID) from None


@app.command()
def check(config: ConfigOption = None) -> None:
    """Validate the file and the GRAPHINV_* environment. Exit 0: valid; 2: one line per error."""
    settings = _load(config)
    where = settings.source_path or "no file (defaults and environment)"
    sources = ", ".join(settings.configured_sources) or "none"
    print(f"{where}: valid (sources: {sources})")


def effective(settings: Settings) -> dict[str, Any]:
    """The whole configuration as plain data: durations spelled `6h`, secrets masked."""
    data: dict[str, Any] = settings.model_dump(mode="json")
    return data


@app.command()
def show(config: ConfigOption = None) -> None:
    """Print the effective configuration (file + environment + defaults) as YAML, secrets masked."""
    settings = _load(config)
    try:
        print(yaml.safe_dump(effective(settings), sort_keys=False, default_flow_style=False), end="")
    except yaml.YAMLError as exc:  # pragma: no cover - model_dump gives plain data
        fail(str(exc))
