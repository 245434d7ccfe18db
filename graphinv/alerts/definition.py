"""An alert script: a `.cypher` file whose `//` header says when it runs and what counts as a finding.

    // name: big_projects
    // description: Projects with more than 500 VMs.
    // severity: warning                  info | warning | critical (default warning)
    // schedule: after-collect            after-collect (default) | 30m | 0 * * * * (cron)
    // sources: gardener, aws             after-collect waits for these (default: all configured)
    // threshold: vms > 500               any (default) | rows >= N | <column> <op> <number>
    // key: project                       columns that identify a finding (default uid)
    // params: min_age=7                  query parameters, typed like `graphinv query -p`
    // sinks: ops-slack                   sink names (default: every sink)
    // notify_resolved: true              also announce findings that went away (default: alerts.notify_resolved)
    MATCH ... RETURN ...

`// uses: orphans` with `provider=` and `kind=` params makes a thin alert: instead of the file's
Cypher it runs the orphan report (graphinv/orphans.py) and takes its `orphan` rows as findings; its
`unverified` rows are neither new nor resolved (their fate is unknown until the data is fresh).
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from graphinv.alerts.settings import SEVERITIES
from graphinv.cypher_header import HeaderError, header_list, parse_header
from graphinv.orphan_settings import KINDS
from graphinv.queries import QueryError, parse_param
from graphinv.scheduler.settings import human_duration
from graphinv.settings.types import CLOUD_PROVIDERS, parse_duration

AFTER_COLLECT = "after-collect"
USES = ("orphans",)
PROVIDERS = CLOUD_PROVIDERS
SOURCE_NAMES = ("gardener", *CLOUD_PROVIDERS)
_HEADER_KEYS = {"name", "description", "severity", "schedule", "sources", "threshold", "key", "params", "sinks",
                "notify_resolved", "uses", "index"}
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt,
}


class AlertError(ValueError):
    """An alert file is malformed, or no alert has that name; the message says which and why."""


@dataclass(frozen=True)
class Threshold:
    """What turns rows into findings: every row, all rows once there are enough, or rows over a value."""

    mode: str = "any"  # any | rows | column
    column: str | None = None
    op: str = ">="
    value: float = 1.0

    @classmethod
    def parse(cls, text: str, where: str) -> Threshold:
        text = text.strip()
        if text in ("", "any", "any row", "any rows"):
            return cls()
        match = re.fullmatch(r"([A-Za-z_]\w*)\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)", text)
        if not match:
            raise AlertError(f"{where}: threshold {text!r} must be `any`, `rows >= N` or `<column> <op> <number>`")
        column, op, value = match.groups()
        if column == "rows":
            return cls(mode="rows", op=op, value=float(value))
        return cls(mode="column", column=column, op=op, value=float(value))

    def select(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        compare = _OPS[self.op]
        if self.mode == "any":
            return list(rows)
        if self.mode == "rows":
            return list(rows) if compare(len(rows), self.value) else []
        selected = []
        for row in rows:
            value = row.get(self.column or "")
            if isinstance(value, int | float) and not isinstance(value, bool) and compare(value, self.value):
                selected.append(row)
        return selected

    def describe(self) -> str:
        if self.mode == "any":
            return "any row"
        return f"{'rows' if self.mode == 'rows' else self.column} {self.op} {self.value:g}"


@dataclass(frozen=True)
class AlertSchedule:
    """`after-collect`, or an interval in seconds, or a cron expression."""

    after_collect: bool = True
    interval: float | None = None
    cron: str | None = None

    @classmethod
    def parse(cls, text: str, where: str) -> AlertSchedule:
        text = text.strip()
        if text in ("", AFTER_COLLECT):
            return cls()
        if len(text.split()) == 5:
            try:
                CronTrigger.from_crontab(text)
            except ValueError as exc:
                raise AlertError(f"{where}: schedule {text!r} is not a 5-field cron expression: {exc}") from None
            return cls(after_collect=False, cron=text)
        try:
            # A bare number is seconds (sub-second schedules are for tests and demos).
            interval = float(text) if re.fullmatch(r"\d+(\.\d+)?", text) else parse_duration(text).total_seconds()
        except ValueError:
            raise AlertError(f"{where}: schedule {text!r} must be `after-collect`, a duration like 30m, "
                             f"or a 5-field cron expression") from None
        if interval <= 0:
            raise AlertError(f"{where}: schedule interval must be positive")
        return cls(after_collect=False, interval=interval)

    def describe(self) -> str:
        if self.after_collect:
            return AFTER_COLLECT
        return f"cron {self.cron}" if self.cron else f"every {human_duration(self.interval or 0)}"


@dataclass(frozen=True)
class AlertDefinition:
    name: str
    description: str
    text: str
    origin: str
    severity: str = "warning"
    schedule: AlertSchedule = field(default_factory=AlertSchedule)
    sources: tuple[str, ...] = ()  # empty: every configured source
    threshold: Threshold = field(default_factory=Threshold)
    key: tuple[str, ...] = ()  # empty: `uid` when rows have it, else the whole row
    params: Mapping[str, Any] = field(default_factory=dict)
    sinks: tuple[str, ...] = ()  # empty: every sink
    notify_resolved: bool | None = None  # None: the alerts section decides
    uses: str | None = None

    def finding_key(self, row: Mapping[str, Any]) -> str:
        columns = self.key or (("uid",) if "uid" in row else ())
        if columns:
            return "|".join("" if row.get(c) is None else str(row.get(c)) for c in columns)
        # No key column: the row itself. Columns that change every run (an age) would make every
        # run look new; the docs tell authors to add `// key:` for such queries.
        digest = hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()
        return digest[:24]


_names = header_list


def parse_alert(text: str, origin: str, fallback_name: str) -> AlertDefinition:
    """Read an alert file; an unknown header key or source name is an error that names it."""
    try:
        header = parse_header(text, _HEADER_KEYS, f"alert file {origin}")
    except HeaderError as exc:
        raise AlertError(str(exc)) from None
    name = header.get("name", fallback_name).strip()
    where = f"alert {name!r} ({origin})"
    unknown_sources = [s for s in _names(header.get("sources", "")) if s not in SOURCE_NAMES]
    if unknown_sources:
        raise AlertError(f"{where}: sources: unknown source(s) {', '.join(unknown_sources)}; "
                         f"known: {', '.join(SOURCE_NAMES)}")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise AlertError(f"{where}: name may only contain letters, digits, '_', '.' and '-'")
    severity = header.get("severity", "warning").lower()
    if severity not in SEVERITIES:
        raise AlertError(f"{where}: severity {severity!r} must be one of {', '.join(SEVERITIES)}")
    params: dict[str, Any] = {}
    for item in _names(header.get("params", "")):
        if "=" not in item:
            raise AlertError(f"{where}: params must be name=value pairs, got {item!r}")
        try:
            key, value = parse_param(item)
        except QueryError as exc:
            raise AlertError(f"{where}: {exc}") from None
        params[key] = value
    uses = header.get("uses") or None
    if uses is not None and uses not in USES:
        raise AlertError(f"{where}: uses {uses!r} is unknown; known: {', '.join(USES)}")
    if uses == "orphans":
        if params.get("provider") not in PROVIDERS:
            raise AlertError(f"{where}: uses: orphans needs params provider=<{'|'.join(PROVIDERS)}>")
        if params.get("kind") not in (None, *KINDS):
            raise AlertError(f"{where}: kind must be one of {', '.join(KINDS)}")
    elif not _body(text).strip():
        raise AlertError(f"{where}: the file has a header but no Cypher")
    notify_resolved_text = header.get("notify_resolved", "").lower()
    if notify_resolved_text not in ("", "true", "false", "yes", "no"):
        raise AlertError(f"{where}: notify_resolved must be true or false")
    return AlertDefinition(
        name=name, description=header.get("description", ""), text=text, origin=origin, severity=severity,
        schedule=AlertSchedule.parse(header.get("schedule", ""), where),
        sources=_names(header.get("sources", "")),
        threshold=Threshold.parse(header.get("threshold", "any"), where),
        key=_names(header.get("key", "")), params=params, sinks=_names(header.get("sinks", "")),
        notify_resolved=None if not notify_resolved_text else notify_resolved_text in ("true", "yes"),
        uses=uses,
    )


def _body(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
