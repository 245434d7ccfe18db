"""From the `sources:` config section to scope tasks, one collector module per source."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from collectors.records import Record
from collectors.scope import Scope, ScopeTask

# Gardener first: its machines are read before the clouds' VMs in the same run, so a VM created
# during the run is younger than the machine read and is never judged against stale machines.
SOURCES = ("gardener", "aws", "gcp", "azure", "openstack")


class SourceError(ValueError):
    """A source is unknown, not configured, or its section is wrong."""


def configured_sources(sections: Mapping[str, Any]) -> list[str]:
    sources = sections.get("sources") or {}
    if not isinstance(sources, dict):
        raise SourceError("`sources` must be a mapping of source name to its settings")
    unknown = set(sources) - set(SOURCES)
    if unknown:
        raise SourceError(f"unknown source(s) in config: {', '.join(sorted(unknown))}; known: {', '.join(SOURCES)}")
    return [name for name in SOURCES if name in sources and sources[name] is not None]


def plan_sources(sections: Mapping[str, Any], names: Sequence[str] = ()) -> list[ScopeTask]:
    available = configured_sources(sections)
    wanted = list(names) or available
    for name in wanted:
        if name not in SOURCES:
            raise SourceError(f"unknown source {name!r}; known: {', '.join(SOURCES)}")
        if name not in available:
            raise SourceError(f"source {name!r} is not configured (no `sources.{name}` section in the config)")
    tasks: list[ScopeTask] = []
    for name in sorted(wanted, key=SOURCES.index):
        module = importlib.import_module(f"collectors.{name}")
        try:
            tasks.extend(module.plan(sections["sources"][name]))
        except (KeyError, TypeError, ValueError) as exc:
            raise SourceError(f"sources.{name}: {exc}") from exc
        except Exception as exc:  # e.g. the source's API is down while planning: fail only this source
            tasks.append(_failed_plan(name, exc))
    return tasks


def _failed_plan(source: str, error: Exception) -> ScopeTask:
    """A task that fails at once, so the run records why a whole source could not be planned."""

    def fetch() -> Iterator[Record]:
        raise error

    return ScopeTask(scope=Scope(source, "*", "*", "Plan"), fetch=fetch)
