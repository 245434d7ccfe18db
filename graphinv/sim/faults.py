"""Faults the simulated APIs play on request, as the landscape's `faults:` lists say (docs/landscape.md).

Each API decides which scope a request belongs to (an AWS or OpenStack region, a GCP project, an
Azure subscription, a seed's Machines) and which list it reads, and asks `FaultPlan.due` whether
this request (page N of that list, retries counted) gets a fault. `fault_response` then builds
what the client sees, in the API's own dialect; the two faults that are about the connection rather
than the answer (reset, hang) are played by graphinv/sim/http.py from `Response.action`.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Literal

from graphinv.sim.http import Response
from graphinv.sim.landscape import Fault

Dialect = Literal["json", "xml", "kube"]

_CONTENT_TYPE = {"json": "application/json", "xml": "text/xml;charset=UTF-8", "kube": "application/json"}
# Neither JSON nor XML, and not valid UTF-8 either: what a broken proxy or a half-written cache hands out.
GARBAGE = b"\xff\xfe<<sim: this answer is neither JSON nor XML \x00\x01 Q29ycnVwdA=="
HTML_PAGE = ("<!DOCTYPE html>\n<html><head><title>{status} Bad Gateway</title></head>\n"
             "<body><center><h1>{status} Bad Gateway</h1></center>\n<hr><center>sim-proxy</center>\n"
             "</body></html>\n")


class FaultPlan:
    """Counts each scope's requests and says which of them get a fault. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: Counter[str] = Counter()
        self.played: Counter[tuple[str, str]] = Counter()  # (scope key, fault kind) -> times played

    def due(self, scope_key: str, faults: Sequence[Fault], list_key: str = "") -> Fault | None:
        """Whether this request gets a fault. Requests are numbered per list of the scope
        (`list_key`: the API's path or action), so `on_request: N` is page N of each list."""
        if not faults:
            return None
        with self._lock:
            self._seen[f"{scope_key} {list_key}"] += 1
            number = self._seen[f"{scope_key} {list_key}"]
            for fault in faults:
                if number >= fault.on_request and (fault.times == 0 or number < fault.on_request + fault.times):
                    self.played[(scope_key, fault.kind)] += 1
                    return fault
        return None

    def count(self, scope_key: str, kind: str | None = None) -> int:
        with self._lock:
            return sum(n for (key, k), n in self.played.items() if key == scope_key and kind in (None, k))


def needs_answer(fault: Fault | None) -> bool:
    """Whether the real answer must be computed first (only to be cut in half)."""
    return fault is None or fault.kind == "truncated"


def fault_response(fault: Fault, dialect: Dialect, answer: Response | None = None) -> Response:
    """What the client sees instead of `answer` (the real answer; needed for `truncated` only)."""
    kind = fault.kind
    if kind == "http500":
        status = fault.status or 500
        return Response(status, _error_body(dialect, status), {"Content-Type": _CONTENT_TYPE[dialect]})
    if kind == "truncated":
        body = answer.body if answer is not None else b"{}"
        cut = body[: max(1, len(body) // 2)] if len(body) > 1 else b""
        headers = dict(answer.headers) if answer is not None else {"Content-Type": _CONTENT_TYPE[dialect]}
        return Response(fault.status or 200, cut, headers)
    if kind == "garbage":
        return Response(fault.status or 200, GARBAGE, {"Content-Type": _CONTENT_TYPE[dialect]})
    if kind == "html":
        status = fault.status or 502
        return Response(status, HTML_PAGE.format(status=status).encode(), {"Content-Type": "text/html"})
    if kind == "reset":
        return Response(action="reset")
    if kind == "hang":
        return Response(action="hang", hang_seconds=fault.seconds)
    raise ValueError(f"unknown fault kind {kind!r}")


def _error_body(dialect: Dialect, status: int) -> bytes:
    message = "simulated internal error: the service could not answer"
    if dialect == "xml":
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>InternalError</Code>'
                f"<Message>{message}</Message></Error></Errors><RequestID>sim-fault</RequestID></Response>"
                ).encode()
    if dialect == "kube":
        return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": message, "reason": "InternalError", "code": status}).encode()
    return json.dumps({"error": {"code": status, "message": message, "status": "INTERNAL"}}).encode()
