"""From the typed `sources:` section to scope tasks, one collector package per source."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from collectors.contract import failing
from collectors.scope import Scope, ScopeTask
from collectors.settings import SOURCES, SourcesSettings
from graphinv.loading import loading_modules

__all__ = ["SOURCES", "SourceError", "collector_plan", "configured_sources", "plan_sources", "sources_settings"]


def collector_plan(name: str) -> Callable[[Any], Iterable[ScopeTask]]:
    """Source `name`'s `plan`. A collector package names its parts lazily (collectors/lazy.py): asking for
    `plan` loads the collector module, and with it the cloud SDK, without the garbage collector running
    over them (graphinv/loading.py)."""
    with loading_modules():
        plan: Callable[[Any], Iterable[ScopeTask]] = importlib.import_module(f"collectors.{name}").plan
    return plan


class SourceError(ValueError):
    """A source is unknown, not configured, or its section is wrong."""


def sources_settings(sources: SourcesSettings | Mapping[str, Any]) -> SourcesSettings:
    """The typed section. A raw mapping (the whole config's sections, as callers that have not moved
    to the typed tree pass it) is validated here; its errors name the key, never a value."""
    if isinstance(sources, SourcesSettings):
        return sources
    raw = sources.get("sources") or {}
    if not isinstance(raw, Mapping):
        raise SourceError("`sources` must be a mapping of source name to its settings")
    unknown = set(raw) - set(SOURCES)
    if unknown:
        raise SourceError(f"unknown source(s) in config: {', '.join(sorted(unknown))}; known: {', '.join(SOURCES)}")
    try:
        return SourcesSettings.model_validate(raw)
    except ValidationError as exc:
        raise SourceError(_one_line(exc)) from None


def _one_line(exc: ValidationError) -> str:
    return "; ".join(f"sources.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


def configured_sources(sources: SourcesSettings | Mapping[str, Any]) -> list[str]:
    return sources_settings(sources).configured()


def plan_sources(sources: SourcesSettings | Mapping[str, Any], names: Sequence[str] = ()) -> list[ScopeTask]:
    settings = sources_settings(sources)
    available = settings.configured()
    wanted = list(names) or available
    for name in wanted:
        if name not in SOURCES:
            raise SourceError(f"unknown source {name!r}; known: {', '.join(SOURCES)}")
        if name not in available:
            raise SourceError(f"source {name!r} is not configured (no `sources.{name}` section in the config)")
    tasks: list[ScopeTask] = []
    for name in sorted(wanted, key=SOURCES.index):
        plan = collector_plan(name)
        try:
            tasks.extend(plan(getattr(settings, name)))
        except (KeyError, TypeError, ValueError) as exc:  # what only planning can check (a key file, clouds.yaml)
            raise SourceError(f"sources.{name}: {exc}") from exc
        except Exception as exc:  # e.g. the source's API is down while planning: fail only this source
            # A task that fails at once, so the run records why a whole source could not be planned.
            tasks.append(ScopeTask(scope=Scope(name, "*", "*", "Plan"), fetch=failing(exc)))
    return tasks
