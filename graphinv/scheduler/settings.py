"""The `scheduler:` config section: when each source is collected, retries, the status endpoint.

    scheduler:
      timezone: UTC                # for cron schedules
      interval: 1h                 # default schedule of every source (and its main job)
      jitter: 1m                   # default: start up to this much late, so jobs do not start at once
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
under `sources:` but not listed under `collect:` gets `interval` and `jitter` (and disks and IPs
every 4 hours in jobs of their own).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, PositiveInt, field_validator, model_validator

from collectors.settings import SOURCES
from graphinv.scheduler.backoff import Backoff
from graphinv.settings.types import AnyPort, Duration, Section

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

# APScheduler (about 45 ms to import, with tzlocal) is imported where a trigger is built or a cron
# expression or time zone is checked: every command loads this section, few of them schedule anything.

HOUR = 3600.0
# A real landscape: machines and VMs move hourly (autoscaling, rolling updates); disks and
# addresses change less and are slower to list (AWS volumes ignore paging), so every 4 hours.
DEFAULT_INTERVAL = HOUR
DEFAULT_SLOW_KINDS = {"Disk": 4 * HOUR, "IP": 4 * HOUR}
DEFAULT_JITTER = 60.0  # spreads the start of many jobs, so they do not hit the APIs in one second


@dataclass(frozen=True)
class Schedule:
    """Either every `interval` seconds or a 5-field `cron` expression; plus up to `jitter` seconds late."""

    interval: float | None = None
    cron: str | None = None
    jitter: float = 0.0

    def trigger(self, timezone: str) -> BaseTrigger:
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

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


def _check_cron(expr: str) -> str:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(expr)
    except ValueError as exc:
        raise ValueError(f"{expr!r} is not a 5-field cron expression: {exc}") from None
    return expr


def _positive(value: timedelta) -> timedelta:
    if value.total_seconds() <= 0:
        raise ValueError("must be positive")
    return value


Cron = Annotated[str, BeforeValidator(lambda v: _check_cron(str(v)))]
PositiveDuration = Annotated[Duration, AfterValidator(_positive)]


def _shorthand(raw: Any) -> Any:
    """`Disk: 4h` or `IP: "15 */4 * * *"` stand for `{interval: 4h}` and `{cron: ...}`."""
    if isinstance(raw, str | int | float) and not isinstance(raw, bool):
        return {"cron": raw} if isinstance(raw, str) and len(raw.split()) == 5 else {"interval": raw}
    return raw


class KindSchedule(Section):
    """A kind in a job of its own: exactly one of `interval` or `cron`; `jitter` defaults to the source's."""

    interval: PositiveDuration | None = None
    cron: Cron | None = None
    jitter: Duration | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> KindSchedule:
        if (self.interval is None) == (self.cron is None):
            raise ValueError("give exactly one of `interval` or `cron`")
        return self

    def schedule(self, default_jitter: float) -> Schedule:
        jitter = default_jitter if self.jitter is None else self.jitter.total_seconds()
        if self.cron:
            return Schedule(cron=self.cron, jitter=jitter)
        assert self.interval is not None
        return Schedule(interval=self.interval.total_seconds(), jitter=jitter)


class SourceSchedule(Section):
    """One source: its main job (`interval` or `cron`, default `scheduler.interval`) and kinds split off."""

    enabled: bool = True
    interval: PositiveDuration | None = None
    cron: Cron | None = None
    jitter: Duration | None = None
    # None: disks and IPs in jobs of their own every 4 hours (not for gardener); `{}`: one job.
    kinds: dict[str, Annotated[KindSchedule | Literal[False] | None, BeforeValidator(_shorthand)]] | None = None

    @model_validator(mode="after")
    def _at_most_one(self) -> SourceSchedule:
        if self.interval is not None and self.cron is not None:
            raise ValueError("give exactly one of `interval` or `cron`")
        return self


def _source_value(raw: Any) -> Any:
    return {"enabled": False} if raw is False else raw


class RetrySettings(Section):
    attempts: PositiveInt = 3
    backoff: Duration = timedelta(minutes=1)
    max_backoff: Duration = timedelta(minutes=15)

    def backoff_policy(self) -> Backoff:
        return Backoff(attempts=self.attempts, base=self.backoff.total_seconds(),
                       maximum=self.max_backoff.total_seconds())


class MetricsSettings(Section):
    enabled: bool = True
    host: str = "127.0.0.1"  # not 0.0.0.0: job names and scope keys reveal accounts
    port: AnyPort = 9100  # 0: any free port (printed at start)


class SchedulerSection(Section):
    """The `scheduler:` section as written; `runtime()` turns it into jobs for the configured sources."""

    timezone: str = "UTC"
    concurrency: PositiveInt | None = None  # default: collect.concurrency
    interval: PositiveDuration = timedelta(seconds=DEFAULT_INTERVAL)
    jitter: Duration = timedelta(seconds=DEFAULT_JITTER)
    misfire_grace: Duration = timedelta(minutes=10)
    run_at_start: bool = True
    shutdown_timeout: Duration = timedelta(minutes=2)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    alerts: bool = True
    collect: dict[str, Annotated[SourceSchedule | None, BeforeValidator(_source_value)]] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, timezone: str) -> str:
        if timezone == "UTC":  # the default, known everywhere: no need to load APScheduler to say so
            return timezone
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger(timezone=timezone)
        except Exception as exc:  # zoneinfo raises several types for a bad name
            raise ValueError(f"{timezone!r} is not a known time zone: {exc}") from None
        return timezone

    @field_validator("collect")
    @classmethod
    def _known_sources(cls, collect: dict[str, SourceSchedule | None]) -> dict[str, SourceSchedule | None]:
        unknown = set(collect) - set(SOURCES)
        if unknown:
            raise ValueError(f"unknown source(s) {', '.join(sorted(unknown))}; known: {', '.join(SOURCES)}")
        return collect

    def unconfigured(self, configured: Sequence[str]) -> list[str]:
        """Sources scheduled here (and not switched off) that have no `sources:` section."""
        return sorted(name for name, spec in self.collect.items()
                      if name not in configured and (spec is None or spec.enabled))

    def runtime(self, configured: Sequence[str], default_concurrency: int = 8) -> SchedulerSettings:
        jobs: list[CollectJobSpec] = []
        for name in SOURCES:
            if name in configured:
                jobs += self._source_jobs(name, self.collect.get(name) or SourceSchedule())
        return SchedulerSettings(
            timezone=self.timezone, concurrency=self.concurrency or default_concurrency,
            misfire_grace=self.misfire_grace.total_seconds(), run_at_start=self.run_at_start,
            shutdown_timeout=self.shutdown_timeout.total_seconds(), retry=self.retry.backoff_policy(),
            metrics=MetricsEndpoint(enabled=self.metrics.enabled, host=self.metrics.host, port=self.metrics.port),
            alerts=self.alerts, jobs=tuple(jobs))

    def _source_jobs(self, source: str, spec: SourceSchedule) -> list[CollectJobSpec]:
        if not spec.enabled:
            return []
        jitter = (spec.jitter if spec.jitter is not None else self.jitter).total_seconds()
        if spec.cron:
            main = Schedule(cron=spec.cron, jitter=jitter)
        else:
            main = Schedule(interval=(spec.interval or self.interval).total_seconds(), jitter=jitter)
        if spec.kinds is not None:
            kinds: dict[str, KindSchedule | Literal[False] | None] = dict(spec.kinds)
        elif source == "gardener":
            kinds = {}  # machines, shoots and seeds belong together: one job
        else:
            kinds = {kind: KindSchedule(interval=timedelta(seconds=every))
                     for kind, every in DEFAULT_SLOW_KINDS.items()}
        jobs = []
        for kind, kind_spec in sorted(kinds.items()):
            if not kind_spec:
                continue  # `Disk: null` puts disks back into the main job
            jobs.append(CollectJobSpec(id=f"collect:{source}:{kind}", source=source,
                                       schedule=kind_spec.schedule(main.jitter), kinds=frozenset({kind})))
        taken = frozenset(kind for job in jobs for kind in job.kinds or ())
        return [CollectJobSpec(id=f"collect:{source}", source=source, schedule=main, exclude=taken), *jobs]
