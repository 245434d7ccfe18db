"""Servers on 127.0.0.1 that break a collector's reads on purpose: one that accepts connections
and never answers, and handlers whose lists never end (for graphinv.sim.http.SimHTTPServer)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from azure.core.credentials import AccessToken

from graphinv.sim.http import Request, Response


class BlackHole:
    """Accepts every connection and never sends a byte (nor closes it until stopped)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="black-hole", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(conn)

    def __enter__(self) -> BlackHole:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self._held:
            conn.close()
        self._listener.close()


def cycling(tokens: tuple[str, ...]) -> Callable[[str | None], str]:
    """The page token after `token`: the first for a first page, then round the cycle, so a token
    comes back after len(tokens) pages, never on the very next one."""

    def after(token: str | None) -> str:
        return tokens[(tokens.index(token) + 1) % len(tokens)] if token in tokens else tokens[0]

    return after


NEXT = cycling(("page-a", "page-b"))


def gardener_continue_forever(request: Request) -> Response:
    """Every Kubernetes list hands out a `continue` token, the same one again on its second page."""
    return Response.json({"apiVersion": "v1", "kind": "List", "items": [],
                          "metadata": {"continue": NEXT(request.arg("continue"))}})


def gcp_next_page_forever(request: Request) -> Response:
    return Response.json({"kind": "compute#diskAggregatedList", "items": {},
                          "nextPageToken": NEXT(request.arg("pageToken"))})


def ec2_next_token_forever(request: Request) -> Response:
    form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
    token = NEXT(form.get("NextToken"))
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<DescribeVolumesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
            f'<requestId>stuck</requestId><volumeSet/><nextToken>{token}</nextToken></DescribeVolumesResponse>')
    return Response(200, body.encode(), {"Content-Type": "text/xml"})


def arm_next_link_forever(base_url: Callable[[], str]) -> Callable[[Request], Response]:
    def handle(request: Request) -> Response:
        token = NEXT(request.arg("page"))
        return Response.json({"value": [], "nextLink": f"{base_url()}{request.path}?api-version="
                                                       f"{request.arg('api-version')}&page={token}"})

    return handle


class StaticToken:
    """An Azure credential that needs no token endpoint."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        expires = datetime.now(UTC) + timedelta(hours=1)
        return AccessToken("stuck-servers-token", int(expires.timestamp()))
