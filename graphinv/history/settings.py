"""The `history:` section."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, HttpUrl

from graphinv.settings.types import Duration, Secret, Section


class WebhookSinkSettings(Section):
    """One receiver of every change as a CloudEvents 1.0 structured JSON POST, at least once."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")  # names the persisted cursor
    url: HttpUrl
    token: Secret | None = None  # sent as `Authorization: Bearer ...`
    timeout: Duration = timedelta(seconds=10)
    batch: int = Field(default=100, ge=1, le=10_000)  # changes read from the outbox per round


class SlackDigestSettings(Section):
    """A digest of the changes since the last one, posted to a Slack incoming webhook."""

    webhook_url: Secret  # incoming-webhook URLs are credentials
    every: Duration = timedelta(hours=1)
    max_lines: int = Field(default=20, ge=1, le=200)


class HistorySettings(Section):
    enabled: bool = True  # record changes while ingesting (graphinv/ingest/changes.py)
    retention: Duration = timedelta(days=90)  # older changes are pruned by the scheduler
    prune_every: Duration = timedelta(hours=6)
    poll_interval: Duration = timedelta(seconds=2)  # how often subscriptions and sinks look for new changes
    # A change is handed to subscribers once it is this old, so a transaction that committed a bit
    # later with an earlier time is never skipped by a cursor that already moved past it.
    settle: Duration = timedelta(seconds=3)
    retry_min: Duration = timedelta(seconds=1)
    retry_max: Duration = timedelta(minutes=5)
    webhooks: list[WebhookSinkSettings] = Field(default_factory=list)
    slack: SlackDigestSettings | None = None
