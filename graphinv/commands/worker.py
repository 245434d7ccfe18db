"""`graphinv worker`: execute scope tasks from the Redis queue (see docs/scaling.md)."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from types import FrameType
from typing import Annotated

import typer

from graphinv.commands.common import config, connected, fail
from graphinv.scheduler.logs import FORMATS, configure_logging


def worker(
    threads: Annotated[int | None, typer.Option("--threads", help="scopes read at once (default: "
                                                                  "queue.worker_threads)")] = None,
    log_format: Annotated[str, typer.Option("--log-format", help="text or json (one JSON object per line)")] = "text",
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error")] = "info",
) -> None:
    """Read scopes that `graphinv scheduler start --distributed` enqueues, into the shared graph,
    until SIGTERM or Ctrl-C. Run as many as the clouds' rate limits and Neo4j allow."""
    if log_format not in FORMATS:
        fail(f"--log-format must be one of {', '.join(FORMATS)}")
    if threads is not None and threads < 1:
        fail("--threads must be at least 1")
    configure_logging(log_format, log_level)
    # The Azure SDK logs every request and response at INFO; a worker reads thousands of pages.
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
    cfg = config()
    settings = cfg.queue
    try:
        settings.redis_url()
    except ValueError as exc:
        fail(str(exc))
    from graphinv.distributed.tasks import ScopeQueue
    from graphinv.distributed.worker import run_worker
    from graphinv.ingest import install_schema
    from graphinv.scheduler.service import default_planner

    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    with connected(cfg) as graph:
        install_schema(graph)
        queue = ScopeQueue(settings)
        print(json.dumps({"event": "started", "queue": settings.queue_name, "redis": settings.where()}), flush=True)
        run_worker(graph, queue, default_planner(cfg.sources), threads or settings.worker_threads, done)
    # Every scope is finished or back on the queue and the graph is closed. What is left are the
    # SDKs' and the queue's daemon threads, whose interpreter shutdown took seconds under load (long
    # enough for a supervisor's SIGKILL): flush what we wrote and leave at once.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
