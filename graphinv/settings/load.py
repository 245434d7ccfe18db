"""Loading the configuration: a YAML file, GRAPHINV_* environment overrides on top, one validation.

The file: the `--config` option, else `$GRAPHINV_CONFIG`, else `./graphinv.yaml`, else none (defaults).
Overrides: see `graphinv.settings.envtable` (GRAPHINV_<SECTION>_<KEY>, plus the older GRAPHINV_LOCAL_*).
Every error is one line that names the key path (`scheduler.collect.aws.interval: ...`, or the
environment variable it came from); no error shows a value (pydantic's input echo is off for every
section), so a secret given in the wrong place is not printed either.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from graphinv.settings.envtable import env_overrides
from graphinv.settings.root import Settings
from graphinv.settings.types import ConfigError


def find_config_file(explicit: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if env is None else env
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    named = env.get("GRAPHINV_CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"GRAPHINV_CONFIG points to {path}, which does not exist")
        return path
    local = Path("graphinv.yaml")
    return local if local.is_file() else None


def read_config_file(file: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{file}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{file}: the top level must be a mapping of sections")
    return loaded


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _message(error: Any, model_fields: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key" + (f"; known: {', '.join(model_fields)}" if model_fields else "")
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def _known_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys the section that refused an unknown key does know (for the error message)."""
    model: Any = Settings
    for part in loc[:-1]:
        fields = getattr(model, "model_fields", None)
        if fields is None or not isinstance(part, str) or part not in fields:
            return []
        annotation = fields[part].annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        model = next((c for c in candidates if isinstance(c, type) and hasattr(c, "model_fields")), None)
        if model is None:
            return []
    return list(getattr(model, "model_fields", {}))


# Parts of an error location that name a branch of a type union rather than a key.
_BRANCH = re.compile(r"^(literal\[|is-instance\[|function-|union\[|tagged-union\[|chain\[|constrained-|lax-"
                     r"|json-or-python)")


def format_errors(exc: ValidationError, from_env: Mapping[str, str] | None = None) -> list[str]:
    """One line per error: `key.path: what is wrong` (values never shown).

    A value that matches no branch of a union (a schedule that is neither a mapping nor `false`)
    gets the error of the branch that came closest, not one line per branch.
    """
    from_env = from_env or {}
    errors = exc.errors(include_input=False, include_url=False)
    keyed = []
    for error in errors:
        loc = tuple(error["loc"])
        branch = next((i for i, p in enumerate(loc) if isinstance(p, str) and _BRANCH.match(p)), None)
        keyed.append((loc, branch, error))
    best: dict[tuple[Any, ...], tuple[Any, ...]] = {}  # union parent -> the deepest error location under it
    for loc, branch, _ in keyed:
        if branch is not None and len(loc) > len(best.get(loc[:branch], ())):
            best[loc[:branch]] = loc
    lines = []
    for loc, branch, error in keyed:
        if branch is not None and best[loc[:branch]] != loc:
            continue  # another branch of the union came closer; its error explains it better
        clean = tuple(p for p in loc if not (isinstance(p, str) and _BRANCH.match(p)))
        where = _where(clean)
        known = _known_keys(clean) if error["type"] == "extra_forbidden" else []
        var = from_env.get(where)
        lines.append(f"{where}{f' (from {var})' if var else ''}: {_message(error, known)}")
    return list(dict.fromkeys(lines))


def settings_from_mapping(raw: Mapping[str, Any], env: Mapping[str, str] | None = None,
                          source: Path | None = None, resolve: bool = True) -> Settings:
    """Validate a configuration given as a mapping (a loaded file), with GRAPHINV_* overrides from `env`.

    Everything that can be checked before work starts is checked here: with `resolve`, also what
    the files and variables it names hold (the alert sinks' secrets, the price table). Raises
    ConfigError with one line per problem.
    """
    env = {} if env is None else env
    merged, from_env = env_overrides(raw, env)
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError("\n".join(format_errors(exc, from_env))) from None
    settings._source_path = source
    if resolve:
        settings.alert_settings(env)  # reads url_env/url_file now: a missing secret stops the start
        settings.orphans.price_table()
    return settings


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """The configuration graphinv runs with: file (if any) + GRAPHINV_* environment, validated once."""
    env = os.environ if env is None else env
    file = find_config_file(path, env)
    raw = read_config_file(file) if file is not None else {}
    try:
        return settings_from_mapping(raw, env, file)
    except ConfigError as exc:
        if file is None:
            raise
        lines = str(exc).splitlines()
        raise ConfigError("\n".join(f"{file}: {line}" for line in lines)) from None
