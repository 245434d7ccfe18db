"""A real webhook receiver on 127.0.0.1, for alert notifications: no patched HTTP client anywhere."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from graphinv.alerts.settings import SinkSettings

# Like a Slack hook, the receiver's URL carries a credential in its path; it must never reach a log line.
SECRET_PATH = "/services/T0GRAPHINV/B0SECRET/hookTokenAbc123XYZ"


class Receiver:
    """An HTTP server on 127.0.0.1 that records JSON POSTs; answers `failures` errors first."""

    def __init__(self, failures: int = 0, failure_status: int = 503) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.requests = 0
        self.failures = failures
        self.failure_status = failure_status
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
                    else:
                        receiver.bodies.append(json.loads(body))
                    receiver._changed.notify_all()
                status = receiver.failure_status if failing else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                if failing and status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{SECRET_PATH}"

    def wait_for(self, bodies: int, timeout: float = 60) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.bodies) >= bodies, timeout)

    def keys(self) -> list[list[str]]:
        """The finding keys of each delivered message, in order."""
        with self._changed:
            return [[f["key"] for f in body.get("findings", [])] for body in self.bodies]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def webhook(url: str, name: str = "ops") -> SinkSettings:
    return SinkSettings(type="webhook", name=name, url=url, timeout=10)
