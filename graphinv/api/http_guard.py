"""The API's outer guard: probes that never wait for data requests, bounded and well-formed bodies,
and a whole-request time limit.

- `/healthz` is answered here, before routing, authentication or any GraphQL work; `/readyz` checks
  Neo4j on its own small thread pool (PROBE_POOL), never on the default pool data requests use.
- A POST body is read here first, up to MAX_BODY_BYTES: too big, not UTF-8, not JSON, nested
  deeper than MAX_JSON_DEPTH, or not a JSON object is a 400 with a GraphQL-shaped error, logged
  as one line, without ever reaching the JSON parser's recursion or strawberry's handlers.
- GraphQL work runs on its own event loop thread (`on_worker_loop`), not the server's.
- The whole request gets the API's timeout plus a small margin; past it the client gets a
  GraphQL-shaped error even if the work under it cannot be interrupted at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("graphinv.api")

MAX_BODY_BYTES = 1_000_000
MAX_JSON_DEPTH = 64
TIMEOUT_MARGIN_SECONDS = 0.5
PROBE_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="graphinv-probe")
T = TypeVar("T")


class BadBody(ValueError):
    """The request body cannot be a GraphQL request; the message says why, for the client."""


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects, found without recursion (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def check_body(body: bytes, max_bytes: int = MAX_BODY_BYTES) -> None:
    if len(body) > max_bytes:
        raise BadBody(f"request body too large: more than {max_bytes} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody("request body is not UTF-8") from None
    if json_depth(text) > MAX_JSON_DEPTH:
        raise BadBody(f"request body is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        parsed = json.loads(text)
    except ValueError:
        raise BadBody("request body is not JSON") from None
    if not isinstance(parsed, dict):
        raise BadBody("request body must be a JSON object with a `query` string")
    if not isinstance(parsed.get("query"), str):
        raise BadBody("request body must be a JSON object with a `query` string")


def error_body(message: str) -> bytes:
    return json.dumps({"data": None, "errors": [{"message": message}]}).encode()


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class HttpGuard:
    def __init__(self, app: ASGIApp, timeout_seconds: float, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.timeout_seconds = timeout_seconds
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/healthz":
            await _respond(send, 200, b'{"status": "ok"}')
            return
        if scope["method"] == "POST" and scope["path"] == "/graphql":
            checked = await self._checked_body(scope, receive, send)
            if checked is None:
                return
            receive = checked
        if scope["path"] != "/graphql":
            await self.app(scope, receive, send)
            return
        await self._timed(scope, receive, send)

    async def _checked_body(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """The body, read and checked; a replaying `receive` for the app, or None once refused."""
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"application/json").decode("latin-1").lower()
        declared = headers.get(b"content-length")
        try:
            if declared is not None and int(declared) > self.max_body_bytes:
                raise BadBody(f"request body too large: more than {self.max_body_bytes} bytes")
            chunks: list[bytes] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise BadBody(f"request body too large: more than {self.max_body_bytes} bytes")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            if "json" in content_type:
                check_body(body, self.max_body_bytes)
        except (BadBody, ValueError) as exc:
            log.warning("refused a request body: %s", exc)
            await _respond(send, 400, error_body(str(exc)))
            return None
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    async def _timed(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        limit = self.timeout_seconds + TIMEOUT_MARGIN_SECONDS
        try:
            await asyncio.wait_for(self.app(scope, receive, tracking_send), limit)
        except TimeoutError:
            log.warning("request over its time limit of %g s", self.timeout_seconds)
            if not started:
                await _respond(send, 200, error_body(
                    f"the request took longer than its limit of {self.timeout_seconds:g} s"))


class _WorkerLoop:
    """One event loop on its own thread for GraphQL work (validation hand-off, resolving, JSON):
    the server's loop keeps only the HTTP plumbing and the probes, so they never queue behind data."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="graphql-worker", daemon=True).start()
                self._loop = loop
            return self._loop


_WORKER = _WorkerLoop()


async def on_worker_loop(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` on the GraphQL worker loop; cancelling the caller cancels it there too."""
    future = asyncio.run_coroutine_threadsafe(work, _WORKER.loop())
    return await asyncio.wrap_future(future)
