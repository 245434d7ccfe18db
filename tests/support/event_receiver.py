"""A real HTTP receiver on 127.0.0.1 for change events: keeps each POST's headers and raw body (so
tests validate them with the CloudEvents SDK), can fail the first requests or hold them open."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class EventReceiver:
    def __init__(self, failures: int = 0) -> None:
        self.accepted: list[tuple[dict[str, str], bytes]] = []  # what it took (2xx), in order
        self.requests = 0
        self.failures = failures
        self.hold = threading.Event()  # set: requests wait until `release` is set, then are taken
        self.release = threading.Event()
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._changed:
                    receiver.requests += 1
                    receiver._changed.notify_all()
                    failing = receiver.failures > 0
                    if failing:
                        receiver.failures -= 1
                if receiver.hold.is_set() and not failing:
                    receiver.release.wait(60)  # the sender may be killed meanwhile: we took it anyway
                if not failing:
                    with receiver._changed:
                        receiver.accepted.append(({k.lower(): v for k, v in self.headers.items()}, body))
                        receiver._changed.notify_all()
                try:
                    self.send_response(503 if failing else 200)
                    self.send_header("Content-Length", "0")
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
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/events"

    def wait(self, predicate: Any, timeout: float = 60) -> bool:
        with self._changed:
            return bool(self._changed.wait_for(lambda: predicate(self), timeout))

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
