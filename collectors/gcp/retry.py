"""Retrying throttled Compute Engine calls, honouring Retry-After.

The generated REST clients retry only 503 and deadline errors by default (see
`compute_v1/services/*/transports/base.py`); a 429 would fail the scope at once, and
google.api_core's own `Retry` sleeps on its exponential schedule, ignoring Retry-After.
`RetryAfter` is a `Retry` whose decorator waits at least what the server asked for; it is passed as
the `retry=` argument of each list (collectors/gcp/rest.py wraps every page request with it, as the
clients' pagers do) and of the clients' own calls. Nothing in the SDK is patched.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from google.api_core import exceptions as gexc
from google.api_core.retry import Retry

P = ParamSpec("P")
R = TypeVar("R")

RETRYABLE = (gexc.TooManyRequests, gexc.ServiceUnavailable, gexc.InternalServerError,
             gexc.BadGateway, gexc.GatewayTimeout)
# Compute Engine has also reported rate limits as 403 with these reasons.
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, RETRYABLE):
        return True
    if isinstance(exc, gexc.Forbidden):
        return any(isinstance(e, dict) and e.get("reason") in RATE_LIMIT_REASONS for e in exc.errors)
    return False


def retry_after_seconds(exc: BaseException) -> float | None:
    """The server's Retry-After (seconds or an HTTP date), when the error carries one."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class RetryAfter(Retry):
    """Exponential backoff with jitter, never shorter than Retry-After, at most `attempts` tries."""

    def __init__(self, attempts: int = 8, initial: float = 0.5, multiplier: float = 2.0,
                 maximum: float = 60.0, sleep: Callable[[float], None] = time.sleep,
                 on_retry: Callable[[BaseException, float], None] | None = None) -> None:
        super().__init__(predicate=is_retryable, initial=initial, maximum=maximum, multiplier=multiplier,
                         timeout=None)
        self.attempts = attempts
        self._sleep = sleep
        # Called with (exception, delay) before each sleep: for logging and tests.
        self._on_retry = on_retry

    def delay_for(self, attempt: int, exc: BaseException) -> float:
        backoff = min(self._maximum, self._initial * self._multiplier ** attempt)
        jittered = backoff * (0.5 + random.random() / 2)
        server = retry_after_seconds(exc)
        return min(self._maximum, max(jittered, server)) if server is not None else jittered

    def __call__(self, func: Callable[P, R], on_error: Callable[[Exception], Any] | None = None,
                 ) -> Callable[P, R]:
        @wraps(func)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            attempt = 0
            while True:
                try:
                    return func(*args, **kwargs)
                except Exception as exc:
                    if not is_retryable(exc) or attempt + 1 >= self.attempts:
                        raise
                    if on_error is not None:
                        on_error(exc)
                    delay = self.delay_for(attempt, exc)
                    if self._on_retry is not None:
                        self._on_retry(exc, delay)
                    self._sleep(delay)
                    attempt += 1

        return call
