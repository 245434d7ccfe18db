"""No request can stall the API: oversized fragment expansions are refused before validation, probes
answer while clients saturate the API, malformed bodies get a GraphQL-shaped 400, and the request
time limit holds even when Neo4j never answers."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from graphinv.api import create_app
from graphinv.api.http_guard import MAX_BODY_BYTES, TIMEOUT_MARGIN_SECONDS
from graphinv.api.settings import ApiSettings
from graphinv.api.threaded import serving
from graphinv.config import Neo4jConnection
from graphinv.db import Graph

SIMPLE = "{ projects(first: 1) { edges { node { name } } } }"


def repeated_spreads(levels: int = 10, spreads: int = 5) -> str:
    """Each fragment spreads the next one `spreads` times: spreads**levels fields once expanded."""
    fragments = [f"fragment F{i} on Project {{ name {' '.join([f'...F{i + 1}'] * spreads)} }}"
                 for i in range(levels)]
    fragments.append(f"fragment F{levels} on Project {{ name }}")
    return '{ project(name: "alpha") { ...F0 } }\n' + "\n".join(fragments)


@pytest.fixture(scope="module")
def api(session_graph: Graph) -> Iterator[str]:
    with serving(create_app(session_graph, ApiSettings())) as base:
        yield base


def _post(base: str, query: str, timeout: float = 60) -> dict[str, Any]:
    response = httpx.post(f"{base}/graphql", json={"query": query}, timeout=timeout)
    body: dict[str, Any] = response.json()
    return body


def test_repeated_fragment_spreads_are_refused_while_others_answer(api: str) -> None:
    answered: list[float] = []
    failures: list[str] = []
    stop = threading.Event()

    def simple_client() -> None:
        while not stop.is_set():
            began = time.monotonic()
            body = _post(api, SIMPLE)
            if body.get("errors"):
                failures.append(str(body["errors"]))
            answered.append(time.monotonic() - began)

    client = threading.Thread(target=simple_client, daemon=True)
    client.start()
    try:
        began = time.monotonic()
        body = _post(api, repeated_spreads())
        took = time.monotonic() - began
        time.sleep(0.3)  # the simple client goes on answering after the refusal, too
    finally:
        stop.set()
        client.join(60)
    assert body["data"] is None and "query too large" in body["errors"][0]["message"], body
    print(f"refused in {took * 1000:.0f} ms; simple queries meanwhile: {len(answered)}")
    assert took < 5, took  # memoised: microseconds of work, whatever the expansion (9.7 million fields)
    assert answered and not failures, failures


def test_depth_is_measured_through_fragments(api: str) -> None:
    nested = "fragment Deep on Project { shoots { project { shoots { project { shoots { project { name } } } } } } }"
    body = _post(api, '{ project(name: "a") { shoots { project { shoots { project { shoots { project '
                      '{ ...Deep } } } } } } } }\n' + nested)
    assert body["data"] is None and "query too deep" in body["errors"][0]["message"], body


def test_probes_answer_while_clients_saturate_the_api(api: str) -> None:
    heavy = "{ " + " ".join(f"a{i}: projects(first: 50) {{ edges {{ node {{ name shoots {{ uid }} }} }} }}"
                            for i in range(25)) + " }"
    stop = threading.Event()

    def client() -> int:
        done = 0
        while not stop.is_set():
            _post(api, heavy, timeout=120)
            done += 1
        return done

    probes: list[tuple[str, int, float]] = []
    with ThreadPoolExecutor(max_workers=12) as pool:
        clients = [pool.submit(client) for _ in range(12)]
        time.sleep(0.5)
        for _ in range(10):
            for path in ("/healthz", "/readyz"):
                began = time.monotonic()
                response = httpx.get(f"{api}{path}", timeout=30)
                probes.append((path, response.status_code, time.monotonic() - began))
        stop.set()
        finished = sum(f.result() for f in clients)
    assert all(status == 200 for _path, status, _took in probes), probes
    slowest = max(took for _path, _status, took in probes)
    print(f"{len(probes)} probes under load, slowest {slowest * 1000:.0f} ms; {finished} heavy requests")


@pytest.mark.parametrize(("body", "expected"), [
    (b'"just a string"', "JSON object"),
    (b'{"query": "{ stats { projects } }", "variables": {"x": "\xff\xfe"}}', "not UTF-8"),
    (b'{"query": "{ stats { projects } }", "variables": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
     "nested deeper"),
    (b'{"query": "' + b"a" * (MAX_BODY_BYTES + 10) + b'"}', "too large"),
    (b"{not json", "not JSON"),
    (b"[1, 2]", "JSON object"),
])
def test_malformed_bodies_get_a_graphql_shaped_400(api: str, body: bytes, expected: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    response = httpx.post(f"{api}/graphql", content=body, headers={"content-type": "application/json"}, timeout=60)
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert expected in errors[0]["message"]
    assert not any(r.exc_info for r in caplog.records)
    assert "Traceback" not in caplog.text


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port that accepts connections and never answers: a Neo4j that hangs."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    listener.close()


def test_request_timeout_is_met_when_neo4j_hangs(black_hole: int) -> None:
    hanging = Graph(Neo4jConnection(uri=f"bolt://127.0.0.1:{black_hole}"))
    try:
        with serving(create_app(hanging, ApiSettings(timeout_seconds=2))) as base:
            began = time.monotonic()
            body = _post(base, "{ stats { projects } }")
            took = time.monotonic() - began
            assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
    finally:
        hanging.close()
    assert body["data"] is None and "longer than its limit" in body["errors"][0]["message"], body
    print(f"answered after {took:.2f} s for a 2 s limit")
    assert took < 2 + TIMEOUT_MARGIN_SECONDS + 3, took  # the margin, plus HTTP and thread hand-offs
