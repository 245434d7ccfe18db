"""Change events leave graphinv: CloudEvents 1.0 structured JSON to a webhook receiver on 127.0.0.1
(validated with the CloudEvents SDK), retried until taken, at least once across a killed process
(no duplicates after deduplication by event id), and a Slack digest that is one message."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from pydantic import HttpUrl, SecretStr

from collectors.records import InstanceRecord
from collectors.scope import Scope
from graphinv.config import Neo4jConnection
from graphinv.db import Graph
from graphinv.history.delivery import SlackDigest, WebhookSink, read_cursor, start_cursor
from graphinv.history.settings import HistorySettings, SlackDigestSettings, WebhookSinkSettings
from graphinv.history.store import ChangeFilter, list_changes
from graphinv.ingest import Ingest, install_schema
from tests.support.cli import subprocess_env
from tests.support.webhooks import Receiver

VMS = Scope("aws", "111", "eu-west-1", "Instance")
QUICK = {"poll_interval": "200ms", "settle": "300ms", "retry_min": "100ms", "retry_max": "500ms"}


def vm(uid: str, state: str = "running") -> InstanceRecord:
    return InstanceRecord(uid=uid, provider="aws", account_id="111", region="eu-west-1", name=uid, state=state,
                          account_ref="aws:111")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def events(receiver: Receiver) -> list[dict[str, Any]]:
    """Every accepted POST as a CloudEvent the SDK parsed (it raises on anything invalid)."""
    out = []
    for headers, body in receiver.accepted:
        assert headers["content-type"].startswith("application/cloudevents+json")
        event = from_http_event(HTTPMessage(headers=headers, body=body))
        assert event.get_specversion() == "1.0"
        out.append({"id": event.get_id(), "type": event.get_type(), "subject": event.get_subject(),
                    "data": event.get_data()})
    return out


def published_ids(graph: Graph) -> list[str]:
    return [r["uid"] for r in list_changes(graph, ChangeFilter(), limit=10_000)]


def test_webhook_gets_each_change_exactly_once_after_two_failures(graph: Graph, receiver: Receiver) -> None:
    install_schema(graph)
    settings = HistorySettings.model_validate({**QUICK, "webhooks": [{"name": "ops", "url": receiver.url}]})
    sink = WebhookSink(graph, settings.webhooks[0], settings)
    start_cursor(graph, sink.name)  # subscribed before anything happened
    ingest = Ingest(graph)
    with ingest.scope(VMS) as run:
        run.write([vm("i-1"), vm("i-2")])
    with ingest.scope(VMS) as run:
        run.write([vm("i-1", "stopped")])
    time.sleep(0.4)  # past the settle window
    receiver.failures = 2
    try:
        assert sink.deliver_pending() == 4  # i-1, i-2 appeared; i-1 changed; i-2 gone
    finally:
        sink.close()
    got = events(receiver)
    assert [e["id"] for e in got] == published_ids(graph)
    assert receiver.requests == 4 + 2
    assert {str(e["type"]) for e in got} == {"io.gardener.graphinv.change.appeared",
                                             "io.gardener.graphinv.change.changed",
                                             "io.gardener.graphinv.change.gone"}
    changed = next(e for e in got if str(e["type"]).endswith(".changed"))
    assert changed["subject"] == "i-1" and changed["data"]["after"] == "stopped"
    # Nothing new: nothing is sent again.
    sink = WebhookSink(graph, settings.webhooks[0], settings)
    try:
        assert sink.deliver_pending() == 0
    finally:
        sink.close()
    assert receiver.requests == 6
    cursor = read_cursor(graph, "webhook:ops")
    assert cursor is not None and cursor.uid == published_ids(graph)[-1]


def _deliverer(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "graphinv", "-c", str(config), "deliver-changes"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=subprocess_env(),
                            start_new_session=True)


def test_killed_between_commit_and_delivery_delivers_after_restart(graph: Graph, neo4j_connection: Neo4jConnection,
                                                                   receiver: Receiver, tmp_path: Path) -> None:
    install_schema(graph)
    config = tmp_path / "graphinv.yaml"
    config.write_text(yaml.safe_dump({"neo4j": {"uri": neo4j_connection.uri},
                                      "history": {**QUICK, "webhooks": [{"name": "hook", "url": receiver.url}]}}))
    first = _deliverer(config)
    try:
        deadline = time.monotonic() + 60
        while read_cursor(graph, "webhook:hook") is None:  # subscribed: its cursor is in the graph
            assert first.poll() is None and time.monotonic() < deadline, first.stdout.read() if first.stdout else ""
            time.sleep(0.1)
        receiver.hold.set()  # the receiver takes the first event but answers only much later
        ingest = Ingest(graph)
        with ingest.scope(VMS) as run:
            run.write([vm("i-1"), vm("i-2"), vm("i-3")])
        assert receiver.wait(lambda r: r.requests >= 1, 30)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # between commit and (acknowledged) delivery
        first.wait(10)
    receiver.release.set()
    assert receiver.wait(lambda r: len(r.accepted) >= 1, 10)
    receiver.hold.clear()
    second = _deliverer(config)
    try:
        expected = published_ids(graph)
        assert len(expected) == 3
        assert receiver.wait(lambda r: len({e["id"] for e in events(r)}) >= 3, 60), second.stdout
        time.sleep(1.0)  # a few more polls: nothing more may come
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)
    got = [str(e["id"]) for e in events(receiver)]
    assert sorted(set(got)) == sorted(expected)  # each change, deduplicated by event id
    assert got.count(expected[0]) == 2 and len(got) == 4  # the unacknowledged one came again: at least once


def test_slack_digest_is_one_message(graph: Graph, receiver: Receiver) -> None:
    install_schema(graph)
    settings = HistorySettings.model_validate(QUICK)
    digest = SlackDigest(graph, SlackDigestSettings(webhook_url=SecretStr(receiver.url), max_lines=2), settings)
    start_cursor(graph, digest.name)
    with Ingest(graph).scope(VMS) as run:
        run.write([vm(f"i-{n}") for n in range(5)])
    time.sleep(0.4)
    assert digest.send_digest() == 5
    assert digest.send_digest() == 0  # nothing new: no message
    assert len(receiver.accepted) == 1
    text = json.loads(receiver.accepted[0][1])["text"]
    assert text.startswith("graphinv: 5 changes (5 appeared Instance)") and "… and 3 more" in text
    assert HttpUrl(receiver.url)  # the receiver is what the config would name
    assert WebhookSinkSettings(name="x", url=HttpUrl(receiver.url), timeout=timedelta(seconds=1))
