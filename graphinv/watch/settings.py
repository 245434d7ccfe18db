"""The `watch:` config section: live watches of the Gardener side (see graphinv/watch).

    watch:
      enabled: true              # run them in `graphinv scheduler start` (default false: scheduled reads
                                 # only); `graphinv watch` and `graphinv demo` watch regardless
      resync_interval: 1h        # full re-list and reconcile (the safety net), even when all is well
      watch_timeout: 50s         # each watch request ends after this; shorter than the 60 s margin
                                 # before a viewer kubeconfig expires, so tokens renew in time
      batch_size: 200            # events per write
      batch_latency: 0s          # longest wait for more events before writing a batch (what queued
                                 # while the last batch committed is taken anyway)
      backoff: {initial: 1s, max: 1m}
      refresh: {enabled: true, debounce: 2s, per_account_per_minute: 60}
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from graphinv.settings.types import Duration, Section


class WatchBackoff(Section):
    initial: Duration = timedelta(seconds=1)
    max: Duration = timedelta(minutes=1)
    jitter: float = Field(default=0.5, ge=0, le=1)  # +- this share of each wait, so seeds do not reconnect in step


class CloudRefreshSettings(Section):
    """Targeted re-reads of one VM when its Machine appears, goes or changes providerID."""

    enabled: bool = True
    debounce: Duration = timedelta(seconds=2)  # a burst of events for one VM makes one re-read
    per_account_per_minute: int = Field(default=60, ge=1)  # re-reads per cloud account


class WatchSettings(Section):
    enabled: bool = False
    resync_interval: Duration = timedelta(hours=1)
    watch_timeout: Duration = timedelta(seconds=50)
    read_timeout: Duration = timedelta(seconds=90)  # silence on an open stream longer than this: reconnect
    batch_size: int = Field(default=200, ge=1)
    batch_latency: Duration = timedelta(0)  # see bench/watch.py: any wait adds to every event's latency
    backoff: WatchBackoff = Field(default_factory=WatchBackoff)
    refresh: CloudRefreshSettings = Field(default_factory=CloudRefreshSettings)

    @field_validator("resync_interval", "watch_timeout", "read_timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("must be longer than 0s")
        return value
