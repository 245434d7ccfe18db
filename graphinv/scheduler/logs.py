"""Logging for long-running graphinv processes: text or JSON lines, always redacted.

Context (job, source, scope, run id, alert) travels in a context variable set by the job that is
running, so every line a job's thread logs carries it, including lines from modules that know
nothing of the scheduler (the collection runner, the ingest engine). Lines from the collection's
reader threads have no job context; the runner names the scope in their message instead.

Every line goes through `graphinv.redact.redact`, which also masks the exact secrets registered at
start-up (webhook URLs, header values) with `register_secret`.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

from graphinv.redact import redact, register_secret

__all__ = ["FORMATS", "configure_logging", "current_context", "log_context", "register_secret", "scrub"]

CONTEXT_FIELDS = ("job", "source", "scope", "run_id", "alert", "sink")
FORMATS = ("text", "json")

_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("graphinv_log_context", default={})  # noqa: B039 - read-only default

def scrub(text: str) -> str:
    """A log line with registered secrets and credential-looking text masked (graphinv.redact)."""
    return redact(text, limit=8000)


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Add fields to every log line of this thread (and of context copies) until the block ends."""
    merged = {**_context.get(), **{k: v for k, v in fields.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> dict[str, str]:
    return dict(_context.get())


class _ContextFilter(logging.Filter):
    """Copies the context variable onto each record, so formatters need not know about it."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = scrub(str(value))
        if record.exc_info:
            entry["error"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """Classic lines, with the context as key=value pairs at the end; redacted like JSON."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = " ".join(f"{k}={getattr(record, k)}" for k in CONTEXT_FIELDS if getattr(record, k, None))
        return scrub(f"{line} [{extras}]" if extras else line)


def configure_logging(fmt: str = "text", level: str | int = "INFO", stream: TextIO | None = None) -> None:
    """Replace the root logger's handlers with one redacting handler in the chosen format."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    # APScheduler says "Running job ..." at INFO for every run; that is noise next to our own lines.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # httpx logs each request with its full URL at INFO, and a webhook URL is a secret.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
