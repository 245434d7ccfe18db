"""Change history over the GraphQL API on a real uvicorn server: the `changes` query with paging,
`history` on node types, and the `changes` subscription received by a real graphql-transport-ws
client (gql's websockets transport), once per change per client."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest
from gql import Client
from gql import gql as parse
from gql.transport.exceptions import TransportError
from gql.transport.websockets import WebsocketsTransport
from pydantic import SecretStr
from websockets.exceptions import InvalidStatus

from collectors.records import InstanceRecord
from collectors.scope import Scope
from graphinv.api import create_app
from graphinv.api.settings import ApiSettings
from graphinv.api.threaded import serving
from graphinv.db import Graph
from graphinv.history.settings import HistorySettings
from graphinv.ingest import Ingest, install_schema

VMS = Scope("aws", "111", "eu-west-1", "Instance")
SUBSCRIPTION = parse("subscription { changes(filter: {provider: \"aws\"}) { id kind nodeUid property before after } }")


def vm(uid: str, state: str = "running") -> InstanceRecord:
    return InstanceRecord(uid=uid, provider="aws", account_id="111", region="eu-west-1", name=uid, state=state,
                          cluster="shoot--p--a", account_ref="aws:111")


def query(base: str, text: str, token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body: dict[str, Any] = httpx.post(f"{base}/graphql", json={"query": text}, headers=headers, timeout=60).json()
    assert not body.get("errors"), body["errors"]
    data: dict[str, Any] = body["data"]
    return data


# Poll often and settle briefly, so the test does not wait for the production defaults; given as a
# `history:` section, the way `graphinv serve` hands the config to create_app.
QUICK_FEED = HistorySettings.model_validate({"poll_interval": "200ms", "settle": "500ms"})


def test_changes_query_pages_and_history_field(graph: Graph) -> None:
    install_schema(graph)
    ingest = Ingest(graph)
    with ingest.scope(VMS) as run:
        run.write([vm("i-1"), vm("i-2"), vm("i-3")])
    with ingest.scope(VMS) as run:
        run.write([vm("i-1", "stopped"), vm("i-2")])
    with serving(create_app(graph, ApiSettings())) as base:
        seen: list[tuple[str, str]] = []
        after = None
        for _ in range(10):
            cursor = f', after: "{after}"' if after else ""
            page = query(base, f'{{ changes(since: "1h", first: 2{cursor}) {{ changes {{ id kind nodeUid }} '
                               "endCursor hasNextPage } }")["changes"]
            seen += [(c["kind"], c["nodeUid"]) for c in page["changes"]]
            after = page["endCursor"]
            if not page["hasNextPage"]:
                break
        assert sorted(seen) == sorted([("appeared", "i-1"), ("appeared", "i-2"), ("appeared", "i-3"),
                                       ("changed", "i-1"), ("gone", "i-3")])
        gone = query(base, '{ changes(since: "1h", filter: {kind: GONE, label: "Instance", project: "p"}) '
                           "{ changes { nodeUid nodeLabel provider project } } }")["changes"]["changes"]
        assert gone == [{"nodeUid": "i-3", "nodeLabel": "Instance", "provider": "aws", "project": "p"}]
        hist = query(base, '{ instance(uid: "i-1") { history { kind property before after } } }')["instance"]
        assert hist["history"] == [{"kind": "appeared", "property": None, "before": None, "after": None},
                                   {"kind": "changed", "property": "state", "before": "running",
                                    "after": "stopped"}]
        body = httpx.post(f"{base}/graphql", json={"query": '{ changes(since: "soon") { hasNextPage } }'}).json()
        assert "soon" in body["errors"][0]["message"]


async def _subscribe(url: str, received: list[dict[str, Any]], ready: threading.Event, stop: threading.Event,
                     headers: dict[str, str] | None = None) -> None:
    transport = WebsocketsTransport(url=url, subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
                                    headers=headers)
    async with Client(transport=transport) as session:
        async def consume() -> None:
            async for item in session.subscribe(SUBSCRIPTION):
                received.append(item["changes"])

        task = asyncio.ensure_future(consume())
        await asyncio.sleep(1.0)  # the subscribe message is out and the server's generator runs
        if task.done():
            task.result()  # the server refused or ended it: raise why
        ready.set()
        while not stop.is_set() and not task.done():
            await asyncio.sleep(0.1)
        if task.done():
            task.result()
        task.cancel()


def _client_thread(url: str, received: list[dict[str, Any]], ready: threading.Event, stop: threading.Event,
                   errors: list[BaseException], headers: dict[str, str] | None = None) -> threading.Thread:
    def main() -> None:
        try:
            asyncio.run(_subscribe(url, received, ready, stop, headers))
        except BaseException as exc:
            errors.append(exc)
            ready.set()
    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    return thread


def test_subscription_delivers_each_change_once_to_each_client(graph: Graph) -> None:
    install_schema(graph)
    ingest = Ingest(graph)
    with ingest.scope(VMS) as run:
        run.write([vm("i-1"), vm("i-2")])
    time.sleep(1.0)  # older than the settle window: not "from now on"
    token = "s3cret-token"
    with serving(create_app(graph, ApiSettings(token=SecretStr(token)), history=QUICK_FEED)) as base:
        url = base.replace("http://", "ws://") + "/graphql"
        # Without the token the upgrade is refused.
        with pytest.raises((TransportError, InvalidStatus, OSError)):
            asyncio.run(_subscribe(url, [], threading.Event(), threading.Event()))
        stop = threading.Event()
        clients = []
        for _ in range(2):
            received: list[dict[str, Any]] = []
            ready = threading.Event()
            errors: list[BaseException] = []
            thread = _client_thread(url, received, ready, stop, errors, {"Authorization": f"Bearer {token}"})
            assert ready.wait(30)
            clients.append((received, errors, thread))
        with ingest.scope(VMS) as run:
            run.write([vm("i-1", "stopped"), vm("i-2"), vm("i-3")])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(len(c[0]) < 2 for c in clients):
            time.sleep(0.1)
        time.sleep(2.0)  # several more polls: nothing may come twice
        stop.set()
        for received, errors, thread in clients:
            thread.join(10)
            assert not errors, errors
            facts = sorted((c["kind"], c["nodeUid"], c["property"]) for c in received)
            assert facts == [("appeared", "i-3", None), ("changed", "i-1", "state")]
            assert len({c["id"] for c in received}) == 2
        assert {c["id"] for c in clients[0][0]} == {c["id"] for c in clients[1][0]}
