"""A small threaded HTTP(S) server for the simulated APIs.

Each API supplies one function `handle(request) -> Response`; this module owns sockets, threads,
TLS and request parsing, so the API modules stay about their API's paths and payloads.
"""

from __future__ import annotations

import json
import random
import select
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # A body sent piece by piece with chunked encoding while the iterator yields (watch streams);
    # `body` is ignored when it is set. Each piece is flushed to the client at once.
    stream: Iterator[bytes] | None = None
    # A connection fault instead of an answer (graphinv/sim/faults.py): "reset" drops the connection
    # with a TCP reset; "hang" answers nothing until the client gives up or `hang_seconds` pass.
    action: str | None = None
    hang_seconds: float = 0.0

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain") -> Response:
        return cls(status, text.encode(), {"Content-Type": content_type})


Handler = Callable[[Request], Response]


@dataclass
class Latency:
    """Delay before every answer, so collection is I/O-bound the way real clouds make it:
    `mean` seconds per request, uniformly spread over mean +/- jitter * mean."""

    mean: float = 0.0
    jitter: float = 0.3

    def sample(self) -> float:
        if self.mean <= 0:
            return 0.0
        spread = self.mean * self.jitter
        return max(0.0, random.uniform(self.mean - spread, self.mean + spread))


# One setting for every simulated API of this process (`graphinv sim serve --latency`).
LATENCY = Latency()


def set_latency(mean: float, jitter: float = 0.3) -> None:
    if mean < 0 or not 0 <= jitter <= 1:
        raise ValueError("latency must be >= 0 and jitter between 0 and 1")
    LATENCY.mean, LATENCY.jitter = mean, jitter


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its timeout, a reset it was sent) is what fault tests play; only
        # other errors are worth a traceback on stderr.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            super().handle_error(request, client_address)


class SimHTTPServer:
    """Serve `handler` on 127.0.0.1:`port` (0 = a free port) in a background thread."""

    def __init__(self, handler: Handler, port: int = 0, tls: tuple[Path, Path] | None = None,
                 name: str = "sim") -> None:
        self.handler = handler
        self.name = name
        outer = self

        class _RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                request = Request(
                    method=self.command, path=split.path, query=parse_qs(split.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()}, body=body,
                )
                delay = LATENCY.sample()
                if delay:
                    time.sleep(delay)
                try:
                    response = outer.handler(request)
                except Exception as exc:  # a simulator bug must show up as a 500, not a hang
                    response = Response.json({"error": f"simulator error: {type(exc).__name__}: {exc}"}, 500)
                if response.action is not None:
                    self._play(response)
                    return
                self.send_response(response.status)
                for key, value in response.headers.items():
                    self.send_header(key, value)
                if response.stream is not None:
                    self._send_stream(response.stream)
                    return
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            def _play(self, response: Response) -> None:
                """A connection fault: no answer at all, then a reset connection."""
                if response.action == "hang":
                    # Until the client closes its end (its read timeout) or the bound passes.
                    deadline = time.monotonic() + response.hang_seconds
                    while time.monotonic() < deadline:
                        readable, _, _ = select.select([self.connection], [], [], 0.2)
                        if readable:
                            break
                self.close_connection = True
                try:  # linger 0: close() sends RST instead of FIN
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                except OSError:
                    pass

            def _send_stream(self, pieces: Iterator[bytes]) -> None:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for piece in pieces:
                        if piece:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                            self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                    # ConnectionAbortedError from the iterator: cut the stream without its last
                    # chunk, as a dropped connection would (tests of reconnecting clients).
                    self.close_connection = True
                finally:
                    close = getattr(pieces, "close", None)
                    if close is not None:
                        close()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: tests and benchmarks would drown in access logs

        self._server = _Server(("127.0.0.1", port), _RequestHandler)
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"{name}-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> SimHTTPServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
