"""The `alerts:` config section.

    alerts:
      dirs: [/etc/graphinv/alerts]         # user alert scripts (*.cypher), next to the shipped ones
      disabled: [orphan_ips_openstack]     # alerts not to run
      notify_resolved: false               # also announce findings that went away
      max_findings_per_message: 50         # longer lists are split over several messages
      keep_history: 30d                    # AlertRun nodes and resolved findings older than this go
      retry: {attempts: 4, backoff: 2s, max_backoff: 1m}    # per notification
      sinks:
        - type: log                        # the process log (and stdout with `stdout: true`)
        - type: webhook                    # POST a JSON document
          name: ops
          url_env: GRAPHINV_OPS_WEBHOOK    # or url_file: /run/secrets/ops-webhook, or url: (discouraged)
          headers_env: {Authorization: GRAPHINV_OPS_TOKEN}   # header values from the environment
          min_severity: warning
          timeout: 10s
        - type: slack                      # Slack incoming webhook
          url_file: /run/secrets/slack-webhook

Webhook URLs and header values are secrets: they are read once, registered with the log scrubber,
and never printed, not even in errors (which name the sink instead).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from graphinv.redact import register_secret
from graphinv.scheduler.backoff import Backoff
from graphinv.settings.types import ConfigError, Duration, Secret, Section, secret_value

SEVERITIES = ("info", "warning", "critical")  # in rising order; a sink sends from its min_severity up

SINK_TYPES = ("log", "webhook", "slack")


@dataclass(frozen=True)
class SinkSettings:
    """A sink with its secrets read (from the config, the environment or a file)."""

    type: str
    name: str
    url: str | None = field(default=None, repr=False)  # secret
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # values are secrets
    min_severity: str = "info"
    timeout: float = 10.0
    stdout: bool = False


@dataclass(frozen=True)
class AlertSettings:
    dirs: tuple[Path, ...] = ()
    disabled: tuple[str, ...] = ()
    notify_resolved: bool = False
    max_findings_per_message: int = 50
    keep_history: float = 30 * 86400.0
    retry: Backoff = field(default_factory=lambda: Backoff(attempts=4, base=2.0, maximum=60.0))
    sinks: tuple[SinkSettings, ...] = (SinkSettings(type="log", name="log"),)
    max_staleness: float = 6 * 3600.0  # from `orphans.max_staleness`, for the orphan alerts
    prices: Path | None = None  # from `orphans.prices`: the orphan alerts' and cost gauge's price table


class SinkSection(Section):
    type: Literal["log", "webhook", "slack"]
    name: str | None = None
    url: Secret | None = None  # discouraged: url_env or url_file keep it out of the config
    url_env: str | None = None
    url_file: Path | None = None
    headers: dict[str, Secret] = Field(default_factory=dict)
    headers_env: dict[str, str] = Field(default_factory=dict)
    min_severity: str = "info"
    timeout: Duration = timedelta(seconds=10)
    stdout: bool = False

    @field_validator("min_severity")
    @classmethod
    def _known_severity(cls, severity: str) -> str:
        if severity not in SEVERITIES:
            raise ValueError(f"must be one of {', '.join(SEVERITIES)}")
        return severity

    @model_validator(mode="after")
    def _one_url(self) -> SinkSection:
        given = [k for k in ("url", "url_env", "url_file") if getattr(self, k) not in (None, "")]
        if len(given) > 1:
            raise ValueError("give only one of url, url_env, url_file")
        if self.type != "log" and not given:
            raise ValueError(f"a {self.type} sink needs url, url_env or url_file")
        return self

    @property
    def display_name(self) -> str:
        return self.name or self.type

    def resolve(self, where: str, env: Mapping[str, str]) -> SinkSettings:
        """Read the secrets (registered with the log scrubber at once); errors name the key, never the value."""
        url = secret_value(self.url)
        if self.url_env:
            url = env.get(self.url_env) or None
            if url is None:
                raise ConfigError(f"{where}.url_env: environment variable {self.url_env} is not set")
        elif self.url_file is not None:
            path = self.url_file.expanduser()
            try:
                url = path.read_text().strip()
            except OSError as exc:
                raise ConfigError(f"{where}.url_file: cannot read {path}: {exc.strerror}") from None
        register_secret(url)
        if url and not url.startswith(("https://", "http://")):
            raise ConfigError(f"{where} ({self.display_name}): the url must start with https:// or http://")
        headers: dict[str, str] = {}
        for key, value in self.headers.items():
            headers[key] = value.get_secret_value()
            register_secret(headers[key])
        for key, var in self.headers_env.items():
            if not env.get(var):
                raise ConfigError(f"{where}.headers_env.{key}: environment variable {var} is not set")
            headers[key] = env[var]
            register_secret(env[var])
        return SinkSettings(type=self.type, name=self.display_name, url=url, headers=headers,
                            min_severity=self.min_severity, timeout=self.timeout.total_seconds(), stdout=self.stdout)


class AlertRetrySettings(Section):
    attempts: PositiveInt = 4
    backoff: Duration = timedelta(seconds=2)
    max_backoff: Duration = timedelta(minutes=1)


class AlertsSection(Section):
    """The `alerts:` section as written; `runtime()` reads the sinks' secrets."""

    dirs: list[Path] = Field(default_factory=list)
    disabled: list[str] = Field(default_factory=list)
    notify_resolved: bool = False
    max_findings_per_message: PositiveInt = 50
    keep_history: Duration = timedelta(days=30)
    retry: AlertRetrySettings = Field(default_factory=AlertRetrySettings)
    sinks: list[SinkSection] | None = None  # None: the log only

    @field_validator("sinks")
    @classmethod
    def _unique_names(cls, sinks: list[SinkSection] | None) -> list[SinkSection] | None:
        names = [s.display_name for s in sinks or ()]
        if len(set(names)) != len(names):
            raise ValueError("sink names must be unique (set `name:` on sinks of the same type)")
        return sinks

    def runtime(self, max_staleness: timedelta, env: Mapping[str, str] | None = None,
                prices: Path | None = None) -> AlertSettings:
        env = os.environ if env is None else env
        sinks = (SinkSettings(type="log", name="log"),) if self.sinks is None else tuple(
            sink.resolve(f"alerts.sinks[{i}]", env) for i, sink in enumerate(self.sinks))
        return AlertSettings(
            dirs=tuple(d.expanduser() for d in self.dirs), disabled=tuple(self.disabled),
            notify_resolved=self.notify_resolved, max_findings_per_message=self.max_findings_per_message,
            keep_history=self.keep_history.total_seconds(),
            retry=Backoff(attempts=self.retry.attempts, base=self.retry.backoff.total_seconds(),
                          maximum=self.retry.max_backoff.total_seconds()),
            sinks=sinks, max_staleness=max_staleness.total_seconds(),
            prices=prices.expanduser() if prices else None)
