"""A real HTTP receiver on 127.0.0.1 for alert notifications and change events: no patched HTTP
client anywhere. It keeps each accepted POST's headers and raw body (so tests can read CloudEvents
with the CloudEvents SDK), can fail the first requests, and can hold requests open."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from graphinv.alerts.settings import SinkSettings

# Like a Slack hook, the receiver's URL carries a credential in its path; it must never reach a log line.
SECRET_PATH = "/services/T0GRAPHINV/B0SECRET/hookTokenAbc123XYZ"


class Receiver:
    """Records POSTs; answers `failures` errors (`failure_status`) first. While `hold` is set, an
    accepted request waits for `release` before it is answered (the sender may give up meanwhile:
    the receiver took it anyway, which is what at-least-once delivery must cope with)."""

    def __init__(self, failures: int = 0, failure_status: int = 503) -> None:
        self.accepted: list[tuple[dict[str, str], bytes]] = []  # (lower-cased headers, body), in order
        self.requests = 0
        self.failures = failures
        self.failure_status = failure_status
        self.hold = threading.Event()
        self.release = threading.Event()
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._changed:
                    receiver.requests += 1
                    failing = receiver.failures > 0
                    if failing:
                        receiver.failures -= 1
                    receiver._changed.notify_all()
                if not failing:
                    if receiver.hold.is_set():
                        receiver.release.wait(60)
                    with receiver._changed:
                        receiver.accepted.append(({k.lower(): v for k, v in self.headers.items()}, body))
                        receiver._changed.notify_all()
                status = receiver.failure_status if failing else 200
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    if failing and status == 429:
                        self.send_header("Retry-After", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender is gone

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{SECRET_PATH}"

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """The accepted bodies as JSON, in order."""
        with self._changed:
            return [json.loads(body) for _, body in self.accepted]

    def wait(self, predicate: Callable[[Receiver], bool], timeout: float = 60) -> bool:
        with self._changed:
            return bool(self._changed.wait_for(lambda: predicate(self), timeout))

    def wait_for(self, bodies: int, timeout: float = 60) -> bool:
        return self.wait(lambda r: len(r.accepted) >= bodies, timeout)

    def keys(self) -> list[list[str]]:
        """The finding keys of each delivered message, in order."""
        return [[f["key"] for f in body.get("findings", [])] for body in self.bodies]

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def webhook(url: str, name: str = "ops") -> SinkSettings:
    return SinkSettings(type="webhook", name=name, url=url, timeout=10)
