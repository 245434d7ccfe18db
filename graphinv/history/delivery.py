"""Pushing changes out: webhook sinks (one CloudEvents 1.0 structured JSON POST per change, at least
once) and a Slack digest (one message for all changes since the last one).

Each subscriber has a persisted cursor in the graph (`ChangeCursor`, uid = `webhook:<name>` or
`slack:digest`): the (at, uid) of the last change it delivered. Its outbox is simply the published
changes after that cursor, so nothing is copied at collection time and collection never waits for a
receiver. A change is delivered, then the cursor moves past it; a process killed in between
delivers that change again after a restart (receivers deduplicate by the event id, which is the
change's uid). A failing receiver is retried with exponential backoff and nothing is skipped.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
from cloudevents.core.bindings.http import to_structured_event
from cloudevents.core.v1.event import CloudEvent

from graphinv.db import Graph
from graphinv.history.settings import HistorySettings, SlackDigestSettings, WebhookSinkSettings
from graphinv.history.store import ChangeFilter, Position, describe, jsonable, list_changes
from graphinv.redact import redact

log = logging.getLogger(__name__)
EVENT_TYPE = "io.gardener.graphinv.change"


class DeliveryError(RuntimeError):
    """A receiver did not take a delivery; the message never contains the URL or a token."""


def read_cursor(graph: Graph, name: str) -> Position | None:
    rows = graph.run_read("MATCH (c:ChangeCursor {uid: $uid}) RETURN c.at AS at, c.last_uid AS last", {"uid": name})
    if not rows or rows[0]["at"] is None:
        return None
    at = rows[0]["at"]
    return Position(at.to_native() if hasattr(at, "to_native") else at, rows[0]["last"] or "")


def save_cursor(graph: Graph, name: str, position: Position, delivered: int = 0) -> None:
    graph.run_write(
        """
        MERGE (c:ChangeCursor {uid: $uid})
        ON CREATE SET c.first_seen = $now, c.delivered = 0
        SET c.at = $at, c.last_uid = $last, c.last_seen = $now, c.delivered = c.delivered + $delivered,
            c.failures = 0, c.last_error = null
        """,
        {"uid": name, "at": position.at, "last": position.uid, "now": datetime.now(UTC), "delivered": delivered},
    )


def note_failure(graph: Graph, name: str, error: str) -> None:
    graph.run_write("MATCH (c:ChangeCursor {uid: $uid}) SET c.failures = coalesce(c.failures, 0) + 1, "
                    "c.last_error = $error", {"uid": name, "error": error})


def start_cursor(graph: Graph, name: str) -> Position:
    """The subscriber's cursor; a new one starts now (it wants what happens from now on)."""
    position = read_cursor(graph, name)
    if position is None:
        position = Position(datetime.now(UTC), "")
        save_cursor(graph, name, position)
    return position


def cloud_event(row: dict[str, Any]) -> CloudEvent:
    """The change as a CloudEvent: id = the change's uid, subject = the node concerned."""
    attributes = {
        "type": f"{EVENT_TYPE}.{row['kind']}",
        "source": f"/graphinv/{row['node_label']}",
        "id": row["uid"],
        "time": row["at"],
        "subject": row["node_uid"],
        "datacontenttype": "application/json",
    }
    return CloudEvent(attributes, jsonable(row))


class _Retrying:
    """Backoff between failed attempts, interruptible by `stop`."""

    def __init__(self, settings: HistorySettings, stop: threading.Event) -> None:
        self.first = settings.retry_min.total_seconds()
        self.maximum = settings.retry_max.total_seconds()
        self.stop = stop
        self.failures = 0

    def failed(self) -> None:
        delay = min(self.maximum, self.first * 2 ** self.failures)
        self.failures += 1
        self.stop.wait(delay)

    def succeeded(self) -> None:
        self.failures = 0


class WebhookSink:
    def __init__(self, graph: Graph, sink: WebhookSinkSettings, settings: HistorySettings,
                 stop: threading.Event | None = None) -> None:
        self.graph = graph
        self.sink = sink
        self.settings = settings
        self.name = f"webhook:{sink.name}"
        self.stop = stop or threading.Event()
        self.retry = _Retrying(settings, self.stop)
        headers = {"User-Agent": "graphinv"}
        if sink.token is not None:
            headers["Authorization"] = f"Bearer {sink.token.get_secret_value()}"
        self.client = httpx.Client(timeout=sink.timeout.total_seconds(), headers=headers)

    def close(self) -> None:
        self.client.close()

    def post(self, row: dict[str, Any]) -> None:
        message = to_structured_event(cloud_event(row))
        try:
            response = self.client.post(str(self.sink.url), content=message.body, headers=message.headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook {self.sink.name}: {type(exc).__name__}") from None
        if response.status_code >= 300:
            raise DeliveryError(f"webhook {self.sink.name}: HTTP {response.status_code}")

    def deliver_pending(self) -> int:
        """Deliver everything after the cursor (retrying each change until it is taken or stop is
        set); returns how many were delivered."""
        position = start_cursor(self.graph, self.name)
        delivered = 0
        while not self.stop.is_set():
            rows = list_changes(self.graph, ChangeFilter(), limit=self.sink.batch, after=position,
                                settle=self.settings.settle)
            for row in rows:
                while True:
                    try:
                        self.post(row)
                        break
                    except DeliveryError as exc:
                        log.warning("%s; retrying", exc)
                        note_failure(self.graph, self.name, redact(str(exc)))
                        self.retry.failed()
                        if self.stop.is_set():
                            return delivered
                self.retry.succeeded()
                position = Position(row["at"], row["uid"])
                save_cursor(self.graph, self.name, position, delivered=1)
                delivered += 1
            if len(rows) < self.sink.batch:
                return delivered
        return delivered


class SlackDigest:
    """One message with everything since the last digest: counts per kind and label, then lines."""

    name = "slack:digest"

    def __init__(self, graph: Graph, slack: SlackDigestSettings, settings: HistorySettings) -> None:
        self.graph = graph
        self.slack = slack
        self.settings = settings

    def text(self, rows: list[dict[str, Any]]) -> str:
        counts = Counter(f"{r['kind']} {r['node_label']}" for r in rows)
        head = f"graphinv: {len(rows)} changes (" + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) + ")"
        lines = [f"• {describe(r)}" for r in rows[: self.slack.max_lines]]
        more = len(rows) - len(lines)
        return "\n".join([head, *lines, *([f"… and {more} more (graphinv changes)"] if more > 0 else [])])

    def send_digest(self) -> int:
        """Post the digest of changes since the cursor (if any); returns how many it covered."""
        position = start_cursor(self.graph, self.name)
        rows = list_changes(self.graph, ChangeFilter(), limit=100_000, after=position, settle=self.settings.settle)
        if not rows:
            return 0
        try:
            response = httpx.post(self.slack.webhook_url.get_secret_value(), json={"text": self.text(rows)},
                                  timeout=30)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"slack digest: {type(exc).__name__}") from None
        if response.status_code >= 300:
            raise DeliveryError(f"slack digest: HTTP {response.status_code}")
        save_cursor(self.graph, self.name, Position(rows[-1]["at"], rows[-1]["uid"]), delivered=len(rows))
        return len(rows)


def deliver_forever(graph: Graph, settings: HistorySettings, stop: threading.Event) -> None:
    """Every configured webhook on its own thread, polling for new changes; the Slack digest on its
    interval. Returns when `stop` is set."""
    threads = []
    for sink_settings in settings.webhooks:
        sink = WebhookSink(graph, sink_settings, settings, stop)

        def loop(sink: WebhookSink = sink) -> None:
            try:
                while not stop.is_set():
                    try:
                        sink.deliver_pending()
                    except Exception as exc:  # the graph away for a moment: try again on the next poll
                        log.warning("%s: %s", sink.name, redact(f"{type(exc).__name__}: {exc}"))
                    stop.wait(settings.poll_interval.total_seconds())
            finally:
                sink.close()

        thread = threading.Thread(target=loop, name=sink.name, daemon=True)
        thread.start()
        threads.append(thread)
    if settings.slack is not None:
        digest = SlackDigest(graph, settings.slack, settings)
        start_cursor(graph, digest.name)
        while not stop.wait(settings.slack.every.total_seconds()):
            try:
                digest.send_digest()
            except Exception as exc:
                log.warning("%s", redact(f"{type(exc).__name__}: {exc}"))
    for thread in threads:
        thread.join()
