"""The queue itself: a Dramatiq broker on Redis, the scope message, per-scope locks, results.

A message describes a scope (source, account, region, kind) and the cycle it belongs to; it never
carries SDK clients or credentials. The worker re-plans the source from its own copy of the config
to get the fetch function for that scope.

Redis keys (all under `queue.namespace`):
- `<ns>:lock:<scope key>`: the scope's lock (SET NX PX, renewed while the scope is read);
- `<ns>:cycle:<id>`: scope key -> result (JSON) of one job run, read by the waiting scheduler;
- `<ns>:errors:<id>`: scope key -> the last error of a scope that failed in that job run;
- `<ns>:stats`: counters (completed, retried, dead-lettered scopes per source; Neo4j retries).
Dramatiq's own keys live under `<ns>-dramatiq`.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from collectors.scope import Scope
from graphinv.distributed.settings import QueueSettings
from graphinv.ingest import ScopeRunResult

log = logging.getLogger(__name__)

ACTOR = "graphinv_collect_scope"
DEAD_ACTOR = "graphinv_scope_dead_letter"
RESULT_TTL_SECONDS = 2 * 86400
# Share of Redis commands (per million) that run Dramatiq's maintenance, which puts the messages of
# workers silent for `heartbeat_timeout` back on the queue. Dramatiq's default (0.1 %) can leave a
# dead worker's scope waiting for a long time on a quiet queue.
MAINTENANCE_CHANCE = 20_000

_RENEW = ("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) "
          "else return 0 end")
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class ScopeFailed(RuntimeError):
    """A scope's read or write failed; the queue retries it with backoff."""


def scope_message(scope: Scope, cycle: str, job: str) -> dict[str, Any]:
    return {"cycle": cycle, "job": job, "source": scope.source, "account": scope.account,
            "region": scope.region, "kind": scope.kind, "extra_labels": list(scope.extra_labels)}


def scope_of(message: dict[str, Any]) -> Scope:
    return Scope(str(message["source"]), str(message["account"]), str(message["region"]), str(message["kind"]),
                 tuple(str(label) for label in message.get("extra_labels") or ()))


def result_payload(result: ScopeRunResult, **extra: Any) -> str:
    return json.dumps({"status": result.status, "written": result.written, "swept": result.swept,
                       "error": result.error, **extra})


def result_of(scope: Scope, payload: str | bytes) -> ScopeRunResult:
    data = json.loads(payload)
    return ScopeRunResult(scope=scope, status=str(data["status"]), written=dict(data.get("written") or {}),
                          swept=dict(data.get("swept") or {}), error=data.get("error"))


def redis_client(settings: QueueSettings) -> redis.Redis:
    """A client that rides out a Redis restart: commands are retried with backoff for about a minute."""
    return redis.Redis.from_url(
        settings.redis_url(), socket_connect_timeout=5, socket_timeout=30, health_check_interval=10,
        retry=Retry(ExponentialBackoff(cap=3.0, base=0.1), 25),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError])


@dataclass
class ScopeLock:
    """A scope's lock, renewed every third of its TTL while held. If it is lost (expired while this
    worker stalled, or Redis forgot it), `lost` is set so the read gives up and sweeps nothing."""

    client: redis.Redis
    key: str
    token: str
    ttl_ms: int
    lost: threading.Event = field(default_factory=threading.Event)
    _done: threading.Event = field(default_factory=threading.Event)

    def start(self) -> ScopeLock:
        threading.Thread(target=self._renew, name=f"lock-{self.key}", daemon=True).start()
        return self

    def _renew(self) -> None:
        while not self._done.wait(self.ttl_ms / 3000):
            try:
                if not self.client.eval(_RENEW, 1, self.key, self.token, self.ttl_ms):
                    log.error("lock %s was lost; the scope's read is abandoned", self.key)
                    self.lost.set()
                    return
            except redis.RedisError as exc:  # Redis away for longer than the client retries
                log.warning("could not renew lock %s: %s", self.key, exc)

    def still_held(self) -> bool:
        """Checked right before the sweep: a lock lost meanwhile may mean another worker reads the scope."""
        if self.lost.is_set():
            return False
        try:
            return bool(self.client.get(self.key) == self.token.encode())
        except redis.RedisError:
            return False

    def release(self) -> None:
        self._done.set()
        try:
            self.client.eval(_RELEASE, 1, self.key, self.token)
        except redis.RedisError as exc:  # it expires by itself
            log.warning("could not release lock %s (it expires in %d ms): %s", self.key, self.ttl_ms, exc)


class ScopeQueue:
    """The broker, the two actors and graphinv's own keys, as both the scheduler and the workers see them."""

    def __init__(self, settings: QueueSettings) -> None:
        self.settings = settings
        self.client = redis_client(settings)
        self.broker = RedisBroker(client=redis_client(settings), namespace=f"{settings.namespace}-dramatiq",
                                  heartbeat_timeout=int(settings.heartbeat_timeout.total_seconds() * 1000),
                                  maintenance_chance=MAINTENANCE_CHANCE)
        self.broker.add_middleware(CurrentMessage())
        dramatiq.set_broker(self.broker)
        ns = settings.namespace
        self.stats_key = f"{ns}:stats"
        self._ns = ns
        # What the actors do; set by a worker (the scheduler only sends).
        self.on_scope: Callable[[dict[str, Any]], None] | None = None
        self.on_dead: Callable[[dict[str, Any], str], None] | None = None
        self.actor = dramatiq.actor(
            actor_name=ACTOR, queue_name=settings.queue_name, broker=self.broker,
            max_retries=settings.max_retries, min_backoff=_ms(settings.min_backoff.total_seconds()),
            max_backoff=_ms(settings.max_backoff.total_seconds()), time_limit=_ms(settings.time_limit.total_seconds()),
            on_retry_exhausted=DEAD_ACTOR)(self._run_scope)
        self.dead_actor = dramatiq.actor(actor_name=DEAD_ACTOR, queue_name=settings.queue_name,
                                         broker=self.broker, max_retries=settings.max_retries)(self._run_dead)

    def close(self) -> None:
        self.broker.close()
        self.client.close()

    # -- the actors' bodies ---------------------------------------------------------------------
    def _run_scope(self, message: dict[str, Any]) -> None:
        if self.on_scope is None:
            raise RuntimeError("this process only sends scope tasks")
        self.on_scope(message)

    def _run_dead(self, message_data: dict[str, Any], retry_info: dict[str, Any]) -> None:
        args = message_data.get("args") or [{}]
        if self.on_dead is not None:
            self.on_dead(args[0], f"gave up after {retry_info.get('retries', 0) + 1} attempt(s)")

    def attempt(self) -> tuple[int, int]:
        """(retries so far, retries allowed) of the message being processed on this thread."""
        current = CurrentMessage.get_current_message()
        retries = int(current.options.get("retries", 0)) if current is not None else 0
        return retries, self.settings.max_retries

    # -- sending and waiting --------------------------------------------------------------------
    def enqueue(self, scope: Scope, cycle: str, job: str) -> None:
        self.actor.send(scope_message(scope, cycle, job))

    def enqueue_later(self, message: dict[str, Any], delay_seconds: float) -> None:
        self.actor.send_with_options(args=(message,), delay=_ms(delay_seconds))

    def record_result(self, cycle: str, scope_key: str, payload: str) -> None:
        key = f"{self._ns}:cycle:{cycle}"
        pipe = self.client.pipeline()
        pipe.hset(key, scope_key, payload)
        pipe.expire(key, RESULT_TTL_SECONDS)
        pipe.execute()

    def results(self, cycle: str) -> dict[str, bytes]:
        rows: dict[bytes, bytes] = self.client.hgetall(f"{self._ns}:cycle:{cycle}")  # type: ignore[assignment]
        return {k.decode(): v for k, v in rows.items()}

    def record_error(self, cycle: str, scope_key: str, error: str) -> None:
        key = f"{self._ns}:errors:{cycle}"
        self.client.hset(key, scope_key, error)
        self.client.expire(key, RESULT_TTL_SECONDS)

    def last_error(self, cycle: str, scope_key: str) -> str | None:
        value = self.client.hget(f"{self._ns}:errors:{cycle}", scope_key)
        return value.decode() if isinstance(value, bytes) else None

    # -- locks and counters ---------------------------------------------------------------------
    def lock(self, scope_key: str) -> ScopeLock | None:
        token = uuid.uuid4().hex
        ttl_ms = _ms(self.settings.lock_ttl.total_seconds())
        key = f"{self._ns}:lock:{scope_key}"
        if not self.client.set(key, token, nx=True, px=ttl_ms):
            return None
        return ScopeLock(self.client, key, token, ttl_ms).start()

    def count(self, name: str, amount: int = 1) -> None:
        if amount:
            self.client.hincrby(self.stats_key, name, amount)

    def stats(self) -> dict[str, int]:
        rows: dict[bytes, bytes] = self.client.hgetall(self.stats_key)  # type: ignore[assignment]
        return {k.decode(): int(v) for k, v in rows.items()}

    def depth(self) -> int:
        """Messages waiting or in flight (Dramatiq keeps every message body in one hash per queue)."""
        ns = f"{self.settings.namespace}-dramatiq"
        return sum(int(self.client.hlen(f"{ns}:{q}.msgs")) for q in (self.settings.queue_name,
                                                                        f"{self.settings.queue_name}.DQ"))


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
