"""Environment overrides, derived from the models: GRAPHINV_<SECTION>_<KEY>[_<KEY>...].

Every scalar setting (a string, number, flag, duration, path or secret, also inside nested sections
such as `scheduler.metrics.port` -> GRAPHINV_SCHEDULER_METRICS_PORT) can be set from the
environment; an empty variable counts as unset. Lists and maps (alert sinks, per-source schedules)
are file-only. The local server's settings also keep their older short names, GRAPHINV_LOCAL_<KEY>.
Values are validated exactly like the file's, and errors name the variable.

`python -m graphinv.settings.envtable > docs/configuration.md` regenerates the documented table;
a test fails when the committed file is not current.
"""

from __future__ import annotations

import copy
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic_core import PydanticUndefined

from graphinv.settings.types import format_duration

PREFIX = "GRAPHINV_"
# The older short names of the local server's settings (GRAPHINV_LOCAL_HEAP, ...), kept working.
ALIASES = {"local_neo4j": "LOCAL"}
_SCALARS = (str, int, float, bool, Path, timedelta, SecretStr)


@dataclass(frozen=True)
class Override:
    variable: str
    path: tuple[str, ...]
    kind: str
    default: str
    secret: bool

    @property
    def key(self) -> str:
        return ".".join(self.path)


def _members(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def _kind(members: list[Any]) -> str | None:
    """A short type name when every member is a scalar (None is allowed), else None."""
    names = []
    for member in members:
        if member is type(None):
            continue
        if typing.get_origin(member) is typing.Literal:
            names.append(" | ".join(str(v) for v in typing.get_args(member)))
        elif isinstance(member, type) and issubclass(member, Enum):
            names.append(" | ".join(str(v.value) for v in member))
        elif isinstance(member, type) and issubclass(member, _SCALARS):
            names.append({timedelta: "duration", SecretStr: "secret", Path: "path"}.get(member, member.__name__))
        else:
            return None
    return " or ".join(dict.fromkeys(names)) or None


def _default(field: Any) -> str:
    if field.default_factory is not None or field.default is PydanticUndefined:
        return ""
    value = field.default
    if value is None:
        return ""
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _walk(model: type[BaseModel], path: tuple[str, ...]) -> Iterator[Override]:
    for name, field in model.model_fields.items():
        members = _members(field.annotation)
        here = (*path, name)
        kind = _kind(members)
        if kind is not None:
            yield Override(variable=PREFIX + "_".join(here).upper(), path=here, kind=kind,
                           default=_default(field), secret=SecretStr in members)
            continue
        nested = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        if len(nested) == 1:
            yield from _walk(nested[0], here)


def overrides() -> list[Override]:
    """Every override variable, from the root model (aliases included, after the systematic names)."""
    from graphinv.settings.root import Settings  # the root imports every section: not at import time

    table = list(_walk(Settings, ()))
    for section, short in ALIASES.items():
        table += [Override(variable=f"{PREFIX}{short}_" + "_".join(o.path[1:]).upper(), path=o.path, kind=o.kind,
                           default=o.default, secret=o.secret) for o in table if o.path[0] == section]
    return table


def env_overrides(raw: Mapping[str, Any], env: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The file's mapping with the environment's values put in; and which key came from which variable."""
    merged: dict[str, Any] = copy.deepcopy(dict(raw))
    origin: dict[str, str] = {}
    for override in overrides():
        value = env.get(override.variable)
        if value is None or value == "":
            continue
        target = merged
        for part in override.path[:-1]:
            if not isinstance(target.get(part), dict):
                target[part] = {}
            target = target[part]
        target[override.path[-1]] = value
        origin[override.key] = override.variable
    return merged, origin


def markdown() -> str:
    lines = [
        "# Configuration",
        "",
        "<!-- Generated by `python -m graphinv.settings.envtable > docs/configuration.md`; do not edit. -->",
        "",
        "graphinv reads one YAML file: the `--config`/`-c` option, else `$GRAPHINV_CONFIG`, else",
        "`./graphinv.yaml`. Every section is validated once at start, before any work; an error names",
        "the key path (`scheduler.collect.aws.interval: ...`) and never shows a value.",
        "`graphinv config check [-c FILE]` validates a file (exit 0, or 2 with one line per error) and",
        "`graphinv config show` prints the effective configuration with secrets masked.",
        "",
        "## Environment overrides",
        "",
        "Every scalar key can be set from the environment: `GRAPHINV_<SECTION>_<KEY>`, nested keys",
        "joined by `_` (`scheduler.metrics.port` is `GRAPHINV_SCHEDULER_METRICS_PORT`). The",
        "environment wins over the file; an empty variable counts as unset. Lists and maps (alert",
        "sinks, per-source schedules) are file-only. `local_neo4j` keys also answer to their older",
        "short names, `GRAPHINV_LOCAL_<KEY>`. Durations are `90s`, `10m`, `6h`, `1d12h` or seconds.",
        "",
        "| variable | key | type | default |",
        "|---|---|---|---|",
    ]
    for o in overrides():
        kind = f"{o.kind} (secret)" if o.secret and o.kind != "secret" else o.kind
        default = f"`{o.default}`" if o.default else ""
        lines.append(f"| `{o.variable}` | `{o.key}` | {kind} | {default} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
