"""Where notifications go: the log, a generic JSON webhook, a Slack incoming webhook.

A sink's `send` either returns (delivered) or raises `SinkError` saying whether trying again could
help. Error messages name the sink and the HTTP status or error class, never the URL: webhook URLs
carry their credential in the path (Slack's do), and httpx puts the URL into its own messages.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from graphinv.alerts.definition import SEVERITIES
from graphinv.alerts.settings import SinkSettings

log = logging.getLogger(__name__)

# Slack's documented limits: 3000 characters of section text, 150 of a header, 50 blocks.
SLACK_SECTION_CHARS = 2900
SLACK_HEADER_CHARS = 150
SUMMARY_FIELDS = ("name", "provider", "account", "region", "shoot", "state", "age_days", "est_monthly_cost_usd",
                  "reason")


class SinkError(RuntimeError):
    def __init__(self, message: str, retryable: bool = True, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass
class Notification:
    alert: str
    severity: str
    description: str
    event: str  # new | resolved
    run_id: str
    findings: list[dict[str, Any]] = field(default_factory=list)  # {"key": ..., "data": {...}}
    open_findings: int = 0
    part: int = 1
    parts: int = 1

    def title(self) -> str:
        what = "new finding" if self.event == "new" else "resolved finding"
        plural = "s" if len(self.findings) != 1 else ""
        part = f" (part {self.part}/{self.parts})" if self.parts > 1 else ""
        return f"{self.alert}: {len(self.findings)} {what}{plural} [{self.severity}]{part}"

    def document(self) -> dict[str, Any]:
        """The generic webhook body: everything, as plain JSON."""
        return {
            "source": "graphinv", "alert": self.alert, "severity": self.severity, "event": self.event,
            "description": self.description, "run_id": self.run_id, "open_findings": self.open_findings,
            "count": len(self.findings), "part": self.part, "parts": self.parts, "findings": self.findings,
        }


def finding_line(finding: Mapping[str, Any]) -> str:
    """One human line per finding: its key, then the well-known fields it has (or the first few)."""
    data: Mapping[str, Any] = finding.get("data") or {}
    fields = [k for k in SUMMARY_FIELDS if data.get(k) not in (None, "")]
    if not fields:
        fields = [k for k, v in data.items() if v not in (None, "") and not isinstance(v, dict | list)][:5]
    details = ", ".join(f"{k}={data[k]}" for k in fields if str(data[k]) != finding.get("key"))
    return f"{finding.get('key')}" + (f" ({details})" if details else "")


class Sink(Protocol):
    name: str
    min_severity: str

    def send(self, notification: Notification) -> None: ...


def wants(sink: Sink, severity: str) -> bool:
    return SEVERITIES.index(severity) >= SEVERITIES.index(sink.min_severity)


class LogSink:
    """Findings as log lines (warning for new, info for resolved); optionally JSON lines on stdout."""

    def __init__(self, name: str = "log", min_severity: str = "info", stdout: bool = False) -> None:
        self.name = name
        self.min_severity = min_severity
        self.stdout = stdout

    def send(self, notification: Notification) -> None:
        level = logging.WARNING if notification.event == "new" else logging.INFO
        log.log(level, "%s", notification.title())
        for finding in notification.findings:
            log.log(level, "  %s %s: %s", notification.event, notification.alert, finding_line(finding))
        if self.stdout:
            print(json.dumps(notification.document(), default=str), file=sys.stdout, flush=True)


class _HttpSink:
    def __init__(self, settings: SinkSettings) -> None:
        assert settings.url
        self.name = settings.name
        self.min_severity = settings.min_severity
        self._url = settings.url
        self._headers = dict(settings.headers)
        self._timeout = settings.timeout

    def __repr__(self) -> str:  # the default repr would not show the URL either, but be explicit
        return f"{type(self).__name__}(name={self.name!r})"

    def body(self, notification: Notification) -> dict[str, Any]:
        raise NotImplementedError

    def send(self, notification: Notification) -> None:
        try:
            with httpx.Client(timeout=self._timeout, follow_redirects=False) as client:
                response = client.post(self._url, json=self.body(notification),
                                       headers={"User-Agent": "graphinv", **self._headers})
        except httpx.TimeoutException:
            raise SinkError(f"sink {self.name}: timed out") from None
        except httpx.TransportError as exc:
            raise SinkError(f"sink {self.name}: {type(exc).__name__} (could not reach the endpoint)") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        retry_after = _retry_after(response.headers.get("Retry-After"))
        # 408 and 429 say "later"; 5xx is the other side's trouble; other 4xx will not heal by waiting.
        retryable = status in (408, 429) or status >= 500
        raise SinkError(f"sink {self.name}: HTTP {status}", retryable=retryable, retry_after=retry_after)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date; the backoff decides instead


class WebhookSink(_HttpSink):
    """POSTs `Notification.document()` as JSON."""

    def body(self, notification: Notification) -> dict[str, Any]:
        return notification.document()


def _slack_escape(text: str) -> str:
    # Slack reads &, < and > as markup (`<!channel>` would ping a whole channel).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackSink(_HttpSink):
    """A Slack incoming-webhook message: `text` as the notification fallback, blocks for the body."""

    def body(self, notification: Notification) -> dict[str, Any]:
        title = notification.title()
        lines = [f"• `{_slack_escape(finding_line(f))}`" for f in notification.findings]
        text, shown = "", 0
        for line in lines:
            if len(text) + len(line) + 1 > SLACK_SECTION_CHARS - 40:
                break
            text += line + "\n"
            shown += 1
        if shown < len(lines):
            text += f"… and {len(lines) - shown} more"
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": title[:SLACK_HEADER_CHARS]}},
        ]
        if notification.description:
            blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                        "text": _slack_escape(notification.description)[:2900]}})
        if text:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text.rstrip()}})
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f"graphinv · {notification.open_findings} open · run {notification.run_id}")}]})
        return {"text": _slack_escape(title), "blocks": blocks}


def build_sinks(settings: tuple[SinkSettings, ...]) -> list[Sink]:
    sinks: list[Sink] = []
    for s in settings:
        if s.type == "log":
            sinks.append(LogSink(s.name, s.min_severity, s.stdout))
        elif s.type == "webhook":
            sinks.append(WebhookSink(s))
        elif s.type == "slack":
            sinks.append(SlackSink(s))
        else:  # settings parsing rejects other types; this guards programmatic use
            raise ValueError(f"unknown sink type {s.type!r}")
    return sinks
