"""The queue itself: a Dramatiq broker on Redis, the scope message, per-scope locks, results.

A message describes a scope (source, account, region, kind) and the cycle it belongs to; it never
carries SDK clients or credentials. The worker re-plans the source from its own copy of the config
to get the fetch function for that scope.

Redis keys (all under `queue.namespace`):
- `<ns>:lock:<scope key>`: the scope's lock (SET NX PX, renewed by the process's LockKeeper while
  the scope is read);
- `<ns>:cycle:<id>`: scope key -> result (JSON) of one job run, read by the waiting scheduler;
- `<ns>:errors:<id>`: scope key -> the last error of a scope that failed in that job run;
- `<ns>:stats`: counters (completed, retried, dead-lettered scopes per source; Neo4j retries).
Dramatiq's own keys live under `<ns>-dramatiq`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage
from redis.backoff import ExponentialBackoff, NoBackoff
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

# The lock keeper renews this often per lock TTL (and per heartbeat timeout): five renewals in a row
# can miss before a lock expires.
RENEWALS_PER_TTL = 6
# A scope whose lock was lost is put back on the queue this many times (not counted as a failure:
# the read did nothing wrong) before its losses count as failures with the queue's retries.
LOCK_LOSS_REQUEUES = 5

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
    """A scope's lock as this process knows it. `valid_until` (monotonic) is when Redis forgets the
    lock at the latest, counted from the moment the last successful renewal was *sent*; the lock
    keeper moves it on. `lost` is set (and `on_lost` called) as soon as the lock may have expired or
    Redis says another token holds it: the read gives up and sweeps nothing."""

    key: str
    token: str
    ttl: float
    valid_until: float
    on_lost: Callable[[], None] | None = None
    lost: threading.Event = field(default_factory=threading.Event)
    why_lost: str = ""

    def remaining(self) -> float:
        return self.valid_until - time.monotonic()

    def lose(self, why: str) -> None:
        if not self.lost.is_set():
            self.why_lost = why
            self.lost.set()
            log.error("lock %s was lost (%s); the scope's read is abandoned and nothing is swept", self.key, why)
            if self.on_lost is not None:
                self.on_lost()


class LockKeeper:
    """Renews every scope lock of this process, and (in a worker) the process's Dramatiq heartbeat,
    from one thread on a Redis connection of its own.

    Why a keeper and not a thread per lock on the shared client: a renewal must never wait behind
    other Redis traffic or inside the shared client's retry loop (25 retries with backoff ride out a
    Redis restart, longer than any lock TTL), so this connection has short timeouts and no retries;
    a renewal that does not answer is simply sent again at the next tick, several ticks before the
    TTL runs out (`RENEWALS_PER_TTL`). If renewals still do not get through (Redis away, the process
    stalled), each lock's local deadline says when it may have expired, and from then on it counts as
    lost, whether or not this thread got to run: `ScopeLock.remaining` is read by the reader itself.

    The heartbeat: Dramatiq's Redis consumer heart-beats only when it fetches, and it does not fetch
    while its prefetch is full, that is while every thread reads a long scope. Other workers then
    take this worker for dead after `heartbeat_timeout` and put its unacknowledged messages back on
    the queue: a second copy of a scope being read (which finds the lock busy and comes back again
    and again) and of the prefetched ones (read twice). The keeper heart-beats for the whole process.
    """

    def __init__(self, settings: QueueSettings, heartbeats_key: str, broker_id: str) -> None:
        ttl = settings.lock_ttl.total_seconds()
        self.interval = min(max(0.05, ttl / RENEWALS_PER_TTL),
                            max(0.05, settings.heartbeat_timeout.total_seconds() / RENEWALS_PER_TTL), 10.0)
        self.client = redis.Redis.from_url(settings.redis_url(), socket_connect_timeout=self.interval,
                                           socket_timeout=self.interval, retry=Retry(NoBackoff(), 0))
        self._renew = self.client.register_script(_RENEW)
        self.heartbeats_key = heartbeats_key
        self.broker_id = broker_id
        self.heartbeat = False
        self._locks: dict[str, ScopeLock] = {}
        self._mutex = threading.Lock()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self.late_ticks = 0  # ticks that ran more than one interval late (a starved process)

    def start(self, heartbeat: bool = False) -> LockKeeper:
        with self._mutex:
            self.heartbeat = self.heartbeat or heartbeat
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="scope-lock-keeper", daemon=True)
                self._thread.start()
        return self

    def keep(self, lock: ScopeLock) -> None:
        with self._mutex:
            self._locks[lock.key] = lock
        self.start()

    def forget(self, lock: ScopeLock) -> None:
        with self._mutex:
            if self._locks.get(lock.key) is lock:
                del self._locks[lock.key]

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None:
            self._thread.join(5)
        self.client.close()

    def _run(self) -> None:
        due = time.monotonic() + self.interval
        while not self._closed.wait(max(0.0, due - time.monotonic())):
            now = time.monotonic()
            if now - due > self.interval:
                self.late_ticks += 1
                log.warning("lock keeper ran %.1f s late (the process is starved)", now - due)
            due = now + self.interval
            self.tick()

    def tick(self) -> None:
        """One round: locks whose deadline passed are lost; the others are renewed in one round trip."""
        with self._mutex:
            locks = list(self._locks.values())
        now = time.monotonic()
        alive = []
        for lock in locks:
            if lock.lost.is_set():
                continue
            if lock.remaining() <= 0:
                lock.lose(f"not renewed within its TTL of {lock.ttl:g} s")
            else:
                alive.append(lock)
        if not alive and not self.heartbeat:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for lock in alive:
                self._renew(keys=[lock.key], args=[lock.token, int(lock.ttl * 1000)], client=pipe)
            if self.heartbeat:
                pipe.zadd(self.heartbeats_key, {self.broker_id: int(time.time() * 1000)})
            answers = pipe.execute(raise_on_error=False)
        except redis.RedisError as exc:  # tried again at the next tick, well before the TTL runs out
            log.warning("could not renew %d scope lock(s): %s", len(alive), exc)
            return
        for lock, answer in zip(alive, answers, strict=False):
            if isinstance(answer, Exception):
                log.warning("could not renew lock %s: %s", lock.key, answer)
            elif answer:
                lock.valid_until = max(lock.valid_until, now + lock.ttl)
            else:
                lock.lose("Redis no longer holds it for this worker")


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
        self.keeper = LockKeeper(settings, f"{self.broker.namespace}:__heartbeats__", self.broker.broker_id)
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
        self.keeper.close()
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
    def lock(self, scope_key: str, on_lost: Callable[[], None] | None = None) -> ScopeLock | None:
        """The scope's lock, or None while another worker holds it."""
        token = uuid.uuid4().hex
        ttl = self.settings.lock_ttl.total_seconds()
        key = f"{self._ns}:lock:{scope_key}"
        sent = time.monotonic()
        if not self.client.set(key, token, nx=True, px=_ms(ttl)):
            return None
        lock = ScopeLock(key, token, ttl, valid_until=sent + ttl, on_lost=on_lost)
        self.keeper.keep(lock)
        return lock

    def still_held(self, lock: ScopeLock) -> bool:
        """Checked right before the sweep: the lock is ours in Redis and stays so for at least half
        its TTL (the sweep runs within that), else another worker may read the scope meanwhile."""
        if lock.lost.is_set():
            return False
        if lock.remaining() < lock.ttl / 2:
            self.keeper.tick()  # renew now rather than give up a complete read
            if lock.lost.is_set() or lock.remaining() < lock.ttl / 2:
                lock.lose(f"less than half its TTL of {lock.ttl:g} s left at the end of the read")
                return False
        try:
            return bool(self.client.get(lock.key) == lock.token.encode())
        except redis.RedisError:
            return False

    def release(self, lock: ScopeLock) -> None:
        self.keeper.forget(lock)
        try:
            self.client.eval(_RELEASE, 1, lock.key, lock.token)
        except redis.RedisError as exc:  # it expires by itself
            log.warning("could not release lock %s (it expires within %g s): %s", lock.key, lock.ttl, exc)

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
