"""Run an ASGI app under uvicorn on a background thread: for tests, benchmarks and embedding."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from graphinv.ports import free_port


@contextmanager
def serving(app: Any, host: str = "127.0.0.1", port: int | None = None,
            start_timeout: float = 30.0) -> Iterator[str]:
    """Serve `app` until the block ends; yields the base URL (http://host:port)."""
    port = port or free_port(host)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"uvicorn did not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
