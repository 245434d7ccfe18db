"""The scheduler's small HTTP endpoint: /metrics for Prometheus, /healthz, /readyz, /jobs.

- /healthz: 200 while the scheduler thread is alive (a liveness probe restarts a wedged process).
- /readyz: 200 when the scheduler runs and Neo4j answered within the last check interval; 503
  otherwise (a readiness probe, and a quick look for people).
- /jobs: the jobs and their next run times as JSON (what `graphinv scheduler jobs` shows live).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from graphinv.metrics import CONTENT_TYPE_LATEST, Metrics

log = logging.getLogger(__name__)


class StatusServer:
    def __init__(self, metrics: Metrics, healthy: Callable[[], bool], ready: Callable[[], tuple[bool, str]],
                 jobs: Callable[[], list[dict[str, Any]]], host: str = "127.0.0.1", port: int = 9100) -> None:
        handler = _handler(metrics, healthy, ready, jobs)
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        host = self.httpd.server_address[0]
        return f"http://{host!s}:{self.port}"

    def start(self) -> StatusServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="graphinv-status", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)


def _handler(metrics: Metrics, healthy: Callable[[], bool], ready: Callable[[], tuple[bool, str]],
             jobs: Callable[[], list[dict[str, Any]]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "graphinv"
        sys_version = ""

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            try:
                if path == "/metrics":
                    self._send(200, metrics.exposition(), CONTENT_TYPE_LATEST)
                elif path == "/healthz":
                    ok = healthy()
                    self._send(200 if ok else 503, b"ok\n" if ok else b"scheduler not running\n")
                elif path == "/readyz":
                    ok, why = ready()
                    self._send(200 if ok else 503, (why + "\n").encode())
                elif path == "/jobs":
                    self._send(200, json.dumps(jobs(), default=str).encode(), "application/json")
                else:
                    self._send(404, b"not found; try /metrics, /healthz, /readyz or /jobs\n")
            except Exception as exc:  # never let a probe take the server thread down
                log.error("status endpoint %s failed: %s", path, type(exc).__name__)
                self._send(500, b"internal error\n")

        def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # Prometheus scrapes every few seconds; access logs would drown everything else

    return Handler
