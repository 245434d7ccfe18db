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
from pathlib import Path
from typing import Any

from graphinv.alerts.definition import SEVERITIES
from graphinv.scheduler.backoff import Backoff
from graphinv.scheduler.logs import register_secret
from graphinv.scheduler.settings import SettingsError, seconds

SINK_TYPES = ("log", "webhook", "slack")


@dataclass(frozen=True)
class SinkSettings:
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


def _secret_from(raw: Mapping[str, Any], key: str, where: str, env: Mapping[str, str]) -> str | None:
    """`key`, `key_env` or `key_file`: the value itself, an environment variable, or a file."""
    given = [k for k in (key, f"{key}_env", f"{key}_file") if raw.get(k) not in (None, "")]
    if len(given) > 1:
        raise SettingsError(f"{where}: give only one of {key}, {key}_env, {key}_file")
    if not given:
        return None
    which = given[0]
    if which == key:
        value = str(raw[key])
    elif which.endswith("_env"):
        name = str(raw[which])
        if not env.get(name):
            raise SettingsError(f"{where}.{which}: environment variable {name} is not set")
        value = env[name]
    else:
        path = Path(os.path.expanduser(str(raw[which])))
        try:
            value = path.read_text().strip()
        except OSError as exc:
            raise SettingsError(f"{where}.{which}: cannot read {path}: {exc.strerror}") from None
    register_secret(value)
    return value


def _sink(raw: Any, index: int, env: Mapping[str, str]) -> SinkSettings:
    where = f"alerts.sinks[{index}]"
    if not isinstance(raw, Mapping):
        raise SettingsError(f"{where} must be a mapping with a `type`")
    known = {"type", "name", "url", "url_env", "url_file", "headers", "headers_env", "min_severity", "timeout",
             "stdout"}
    unknown = set(raw) - known
    if unknown:
        raise SettingsError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    kind = raw.get("type")
    if kind not in SINK_TYPES:
        raise SettingsError(f"{where}.type must be one of {', '.join(SINK_TYPES)}, got {kind!r}")
    name = str(raw.get("name") or kind)
    url = _secret_from(raw, "url", where, env)
    if kind != "log" and not url:
        raise SettingsError(f"{where} ({name}): a {kind} sink needs url, url_env or url_file")
    if url and not url.startswith(("https://", "http://")):
        raise SettingsError(f"{where} ({name}): the url must start with https:// or http://")
    headers: dict[str, str] = {}
    for key, value in (raw.get("headers") or {}).items():
        headers[str(key)] = str(value)
        register_secret(str(value))
    for key, var in (raw.get("headers_env") or {}).items():
        if not env.get(str(var)):
            raise SettingsError(f"{where}.headers_env.{key}: environment variable {var} is not set")
        headers[str(key)] = env[str(var)]
        register_secret(env[str(var)])
    severity = str(raw.get("min_severity", "info"))
    if severity not in SEVERITIES:
        raise SettingsError(f"{where}.min_severity must be one of {', '.join(SEVERITIES)}")
    return SinkSettings(type=kind, name=name, url=url, headers=headers, min_severity=severity,
                        timeout=seconds(raw.get("timeout", 10), f"{where}.timeout"), stdout=bool(raw.get("stdout")))


def parse_alert_settings(sections: Mapping[str, Any], env: Mapping[str, str] | None = None) -> AlertSettings:
    env = os.environ if env is None else env
    raw = sections.get("alerts") or {}
    if not isinstance(raw, Mapping):
        raise SettingsError("alerts must be a mapping")
    known = {"dirs", "disabled", "notify_resolved", "max_findings_per_message", "keep_history", "retry", "sinks"}
    unknown = set(raw) - known
    if unknown:
        raise SettingsError(f"alerts: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    retry_raw = raw.get("retry") or {}
    attempts = retry_raw.get("attempts", 4)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
        raise SettingsError(f"alerts.retry.attempts must be a positive integer, got {attempts!r}")
    retry = Backoff(attempts=attempts, base=seconds(retry_raw.get("backoff", 2), "alerts.retry.backoff"),
                    maximum=seconds(retry_raw.get("max_backoff", 60), "alerts.retry.max_backoff"))
    sinks_raw = raw.get("sinks")
    sinks = (SinkSettings(type="log", name="log"),) if sinks_raw is None else tuple(
        _sink(item, i, env) for i, item in enumerate(sinks_raw))
    names = [s.name for s in sinks]
    if len(set(names)) != len(names):
        raise SettingsError("alerts.sinks: sink names must be unique (set `name:` on sinks of the same type)")
    per_message = raw.get("max_findings_per_message", 50)
    if not isinstance(per_message, int) or per_message < 1:
        raise SettingsError("alerts.max_findings_per_message must be a positive integer")
    orphans = sections.get("orphans") or {}
    return AlertSettings(
        dirs=tuple(Path(os.path.expanduser(str(d))) for d in raw.get("dirs") or ()),
        disabled=tuple(str(n) for n in raw.get("disabled") or ()),
        notify_resolved=bool(raw.get("notify_resolved", False)),
        max_findings_per_message=per_message,
        keep_history=seconds(raw.get("keep_history", 30 * 86400), "alerts.keep_history"),
        retry=retry, sinks=sinks,
        max_staleness=seconds(orphans.get("max_staleness", "6h"), "orphans.max_staleness"),
    )
