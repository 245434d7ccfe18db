"""Hand a notification to a sink, retrying with backoff; never raise (a sink must not stop anything)."""

from __future__ import annotations

import logging
import threading

from graphinv.alerts.sinks import Notification, Sink, SinkError
from graphinv.metrics import Metrics
from graphinv.scheduler.backoff import Backoff
from graphinv.scheduler.logs import log_context

log = logging.getLogger(__name__)


def deliver(sink: Sink, notification: Notification, backoff: Backoff, stop: threading.Event | None = None,
            metrics: Metrics | None = None) -> bool:
    """True when the sink took the notification; False after the last failed attempt (logged)."""
    stop = stop or threading.Event()
    with log_context(sink=sink.name):
        for attempt in range(1, backoff.attempts + 1):
            try:
                sink.send(notification)
            except SinkError as exc:
                error: Exception = exc
                retryable, retry_after = exc.retryable, exc.retry_after
            except Exception as exc:  # a sink bug must not take the scheduler down either
                error, retryable, retry_after = exc, True, None
            else:
                if metrics:
                    metrics.notifications.labels(sink.name, "sent").inc()
                if attempt > 1:
                    log.info("sink %s delivered %s on attempt %d", sink.name, notification.alert, attempt)
                return True
            last = attempt == backoff.attempts or not retryable or stop.is_set()
            if last:
                log.error("sink %s could not deliver %s after %d attempt(s): %s", sink.name, notification.alert,
                          attempt, _describe(error))
                break
            delay = backoff.delay(attempt)
            if retry_after is not None:
                delay = min(max(delay, retry_after), backoff.maximum)
            log.warning("sink %s failed (%s); attempt %d of %d in %.1f s", sink.name, _describe(error), attempt + 1,
                        backoff.attempts, delay)
            if metrics:
                metrics.notification_retries.labels(sink.name).inc()
            if stop.wait(delay):
                log.error("sink %s: shutting down; %s not delivered", sink.name, notification.alert)
                break
    if metrics:
        metrics.notifications.labels(sink.name, "failed").inc()
    return False


def _describe(error: Exception) -> str:
    # SinkError messages are built without URLs; other exceptions show only their class, since
    # their text might quote a request.
    return str(error) if isinstance(error, SinkError) else type(error).__name__
