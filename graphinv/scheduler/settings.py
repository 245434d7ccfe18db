"""The `scheduler:` config section: when each source is collected, retries, the status endpoint.

    scheduler:
      timezone: UTC                # for cron schedules
      concurrency: 8               # scopes read at once inside one job
      misfire_grace: 10m           # a run that could not start on time still starts within this
      run_at_start: true           # collect once right away instead of waiting a full interval
      shutdown_timeout: 2m         # SIGTERM: longest wait for running jobs to give up their scopes
      retry: {attempts: 3, backoff: 1m, max_backoff: 15m}
      metrics: {enabled: true, host: 127.0.0.1, port: 9100}
      alerts: true                 # schedule the alert scripts too
      collect:
        gardener: {interval: 1h, jitter: 1m}
        aws:
          interval: 1h             # every kind not listed under `kinds`
          kinds: {Disk: {interval: 4h}, IP: {cron: "15 */4 * * *"}}
        gcp: {enabled: false}

Durations are numbers of seconds or strings like 90s, 10m, 1h, 1d12h. A source that is configured
under `sources:` but not listed under `collect:` gets the defaults below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from graphinv.orphans import parse_duration
from graphinv.scheduler.backoff import Backoff
from graphinv.sources import SOURCES

HOUR = 3600.0
# A real landscape: machines and VMs move hourly (autoscaling, rolling updates); disks and
# addresses change less and are slower to list (AWS volumes ignore paging), so every 4 hours.
DEFAULT_INTERVAL = HOUR
DEFAULT_SLOW_KINDS = {"Disk": 4 * HOUR, "IP": 4 * HOUR}
DEFAULT_JITTER = 60.0  # spreads the start of many jobs, so they do not hit the APIs in one second


class SettingsError(ValueError):
    """The scheduler section is wrong; the message names the key."""


def seconds(value: Any, where: str) -> float:
    """A duration as seconds: a number, or a string like 90s, 10m, 1h30m."""
    if isinstance(value, bool):
        raise SettingsError(f"{where} must be a duration like 30s, 10m or 1h, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise SettingsError(f"{where} must not be negative, got {value!r}")
        return float(value)
    if isinstance(value, str):
        try:
            return parse_duration(value).total_seconds()
        except ValueError as exc:
            raise SettingsError(f"{where}: {exc}") from None
    raise SettingsError(f"{where} must be a duration like 30s, 10m or 1h, got {value!r}")


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SettingsError(f"{where} must be a mapping, got {type(value).__name__}")
    return value


def _check_keys(raw: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = set(raw) - known
    if unknown:
        raise SettingsError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")


@dataclass(frozen=True)
class Schedule:
    """Either every `interval` seconds or a 5-field `cron` expression; plus up to `jitter` seconds late."""

    interval: float | None = None
    cron: str | None = None
    jitter: float = 0.0

    def trigger(self, timezone: str) -> BaseTrigger:
        jitter = self.jitter or None
        if self.cron:
            trigger = CronTrigger.from_crontab(self.cron, timezone=timezone)
            trigger.jitter = jitter
            return trigger
        assert self.interval is not None
        return IntervalTrigger(seconds=self.interval, timezone=timezone, jitter=jitter)

    def describe(self) -> str:
        base = f"cron {self.cron}" if self.cron else f"every {human_duration(self.interval or 0)}"
        return f"{base} (+ up to {human_duration(self.jitter)} jitter)" if self.jitter else base

    @classmethod
    def parse(cls, raw: Any, where: str, default_jitter: float = 0.0) -> Schedule:
        if isinstance(raw, str | int | float) and not isinstance(raw, bool):
            raw = {"cron": raw} if isinstance(raw, str) and len(raw.split()) == 5 else {"interval": raw}
        raw = _mapping(raw, where)
        _check_keys(raw, {"interval", "cron", "jitter"}, where)
        if ("interval" in raw) == ("cron" in raw):
            raise SettingsError(f"{where}: give exactly one of `interval` or `cron`")
        jitter = seconds(raw["jitter"], f"{where}.jitter") if "jitter" in raw else default_jitter
        if "cron" in raw:
            expr = str(raw["cron"])
            try:
                CronTrigger.from_crontab(expr)
            except ValueError as exc:
                raise SettingsError(f"{where}.cron {expr!r} is not a 5-field cron expression: {exc}") from None
            return cls(cron=expr, jitter=jitter)
        interval = seconds(raw["interval"], f"{where}.interval")
        if interval <= 0:
            raise SettingsError(f"{where}.interval must be positive")
        return cls(interval=interval, jitter=jitter)


def human_duration(value: float) -> str:
    if value >= 3600 and value % 3600 == 0:
        return f"{int(value // 3600)}h"
    if value >= 60 and value % 60 == 0:
        return f"{int(value // 60)}m"
    return f"{value:g}s"


@dataclass(frozen=True)
class CollectJobSpec:
    """One scheduled collection: some or all kinds of one source.

    `kinds` None means every kind of the source except `exclude` (the kinds other jobs of the same
    source take), so a kind a collector adds later is still collected by the source's main job.
    """

    id: str
    source: str
    schedule: Schedule
    kinds: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()

    def wants(self, kind: str) -> bool:
        if kind == "Plan":  # a source that could not be planned fails every job of the source
            return True
        if self.kinds is not None:
            return kind in self.kinds
        return kind not in self.exclude

    def describe_kinds(self) -> str:
        if self.kinds is not None:
            return ", ".join(sorted(self.kinds))
        return "all" + (f" but {', '.join(sorted(self.exclude))}" if self.exclude else "")


@dataclass(frozen=True)
class MetricsEndpoint:
    enabled: bool = True
    host: str = "127.0.0.1"  # not 0.0.0.0: job names and scope keys reveal accounts
    port: int = 9100


@dataclass(frozen=True)
class SchedulerSettings:
    timezone: str = "UTC"
    concurrency: int = 8
    misfire_grace: float = 600.0
    run_at_start: bool = True
    shutdown_timeout: float = 120.0
    retry: Backoff = field(default_factory=lambda: Backoff(attempts=3, base=60.0, maximum=900.0))
    metrics: MetricsEndpoint = field(default_factory=MetricsEndpoint)
    alerts: bool = True
    jobs: tuple[CollectJobSpec, ...] = ()


def _source_jobs(source: str, raw: Any, where: str) -> list[CollectJobSpec]:
    if raw is None:
        raw = {}
    if raw is False:
        return []
    raw = _mapping(raw, where)
    _check_keys(raw, {"interval", "cron", "jitter", "kinds", "enabled"}, where)
    if raw.get("enabled", True) is False:
        return []
    main_raw = {k: v for k, v in raw.items() if k in ("interval", "cron", "jitter")}
    if "interval" not in main_raw and "cron" not in main_raw:
        main_raw["interval"] = DEFAULT_INTERVAL
    main = Schedule.parse(main_raw, where, default_jitter=DEFAULT_JITTER)
    if "kinds" in raw:
        kinds_raw = dict(_mapping(raw["kinds"], f"{where}.kinds"))
    elif source == "gardener":
        kinds_raw = {}  # machines, shoots and seeds belong together: one job
    else:
        kinds_raw = {kind: {"interval": every} for kind, every in DEFAULT_SLOW_KINDS.items()}
    jobs = []
    for kind, schedule_raw in sorted(kinds_raw.items()):
        if schedule_raw is None or schedule_raw is False:
            continue  # `Disk: null` puts disks back into the main job
        schedule = Schedule.parse(schedule_raw, f"{where}.kinds.{kind}", default_jitter=main.jitter)
        jobs.append(CollectJobSpec(id=f"collect:{source}:{kind}", source=source, schedule=schedule,
                                   kinds=frozenset({kind})))
    taken = frozenset(kind for job in jobs for kind in job.kinds or ())
    return [CollectJobSpec(id=f"collect:{source}", source=source, schedule=main, exclude=taken), *jobs]


def parse_scheduler_settings(sections: Mapping[str, Any]) -> SchedulerSettings:
    """Read `scheduler:` (and the configured `sources:`) into settings; errors name the key."""
    raw = _mapping(sections.get("scheduler"), "scheduler")
    _check_keys(raw, {"timezone", "concurrency", "misfire_grace", "run_at_start", "shutdown_timeout", "retry",
                      "metrics", "alerts", "collect"}, "scheduler")
    collect_section = _mapping(sections.get("collect"), "collect")
    concurrency = raw.get("concurrency", collect_section.get("concurrency", 8))
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        raise SettingsError(f"scheduler.concurrency must be a positive integer, got {concurrency!r}")

    retry_raw = _mapping(raw.get("retry"), "scheduler.retry")
    _check_keys(retry_raw, {"attempts", "backoff", "max_backoff"}, "scheduler.retry")
    attempts = retry_raw.get("attempts", 3)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
        raise SettingsError(f"scheduler.retry.attempts must be a positive integer, got {attempts!r}")
    retry = Backoff(attempts=attempts, base=seconds(retry_raw.get("backoff", 60), "scheduler.retry.backoff"),
                    maximum=seconds(retry_raw.get("max_backoff", 900), "scheduler.retry.max_backoff"))

    metrics_raw = _mapping(raw.get("metrics"), "scheduler.metrics")
    _check_keys(metrics_raw, {"enabled", "host", "port"}, "scheduler.metrics")
    port = metrics_raw.get("port", 9100)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise SettingsError(f"scheduler.metrics.port must be a port number, got {port!r}")
    metrics = MetricsEndpoint(enabled=bool(metrics_raw.get("enabled", True)),
                              host=str(metrics_raw.get("host", "127.0.0.1")), port=port)

    configured = [name for name in SOURCES if (sections.get("sources") or {}).get(name) is not None]
    collect_raw = _mapping(raw.get("collect"), "scheduler.collect")
    unknown = set(collect_raw) - set(SOURCES)
    if unknown:
        raise SettingsError(f"scheduler.collect: unknown source(s) {', '.join(sorted(unknown))}; "
                            f"known: {', '.join(SOURCES)}")
    not_configured = [name for name in collect_raw if name not in configured and collect_raw[name] not in (False,)]
    if not_configured:
        raise SettingsError(f"scheduler.collect names source(s) without a `sources:` section: "
                            f"{', '.join(sorted(not_configured))}")
    jobs: list[CollectJobSpec] = []
    for name in configured:
        jobs += _source_jobs(name, collect_raw.get(name), f"scheduler.collect.{name}")

    timezone = str(raw.get("timezone", "UTC"))
    try:
        CronTrigger(timezone=timezone)
    except Exception as exc:  # zoneinfo raises several types for a bad name
        raise SettingsError(f"scheduler.timezone {timezone!r} is not a known time zone: {exc}") from None
    return SchedulerSettings(
        timezone=timezone, concurrency=concurrency,
        misfire_grace=seconds(raw.get("misfire_grace", 600), "scheduler.misfire_grace"),
        run_at_start=bool(raw.get("run_at_start", True)),
        shutdown_timeout=seconds(raw.get("shutdown_timeout", 120), "scheduler.shutdown_timeout"),
        retry=retry, metrics=metrics, alerts=bool(raw.get("alerts", True)), jobs=tuple(jobs),
    )
