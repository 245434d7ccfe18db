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

import contextlib
import json
import logging
import os
import subprocess
import sys
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
from graphinv.distributed.keeper import RENEW_SCRIPT
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

# At the end of a read, right before the sweep: still this worker's lock? Then a full TTL from now.
_HOLD = RENEW_SCRIPT
KEEPER_START_SECONDS = 120.0
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
    """A scope's lock held by this worker. `lost` is set (and `on_lost` called) when the lock keeper
    finds that Redis no longer holds it for this token: the read gives up and sweeps nothing."""

    key: str
    token: str
    ttl: float
    on_lost: Callable[[], None] | None = None
    lost: threading.Event = field(default_factory=threading.Event)
    why_lost: str = ""

    def lose(self, why: str) -> None:
        if not self.lost.is_set():
            self.why_lost = why
            self.lost.set()
            log.error("lock %s was lost (%s); the scope's read is abandoned and nothing is swept", self.key, why)
            if self.on_lost is not None:
                self.on_lost()


class LockKeeper:
    """The worker's side of its lock keeper process (graphinv/distributed/keeper.py says why a
    process): tells it which locks to renew and which to forget, and hears which were lost.

    The keeper renews every lock `RENEWALS_PER_TTL` times per TTL, so five renewals in a row can
    miss before a lock expires, on a Redis connection of its own with timeouts of one tick and no
    retries (a renewal never waits behind the worker's traffic or inside the shared client's
    minute-long retry loop). It also heart-beats for the worker's Dramatiq broker: Dramatiq's Redis
    consumer heart-beats only when it fetches, and it does not fetch while every thread reads a
    scope, so busy workers looked dead after `heartbeat_timeout`, and the others put their in-flight
    and prefetched messages back on the queue (scopes read twice, busy scopes bouncing on their
    locks). If the keeper process ends unexpectedly, every lock counts as lost and a new keeper
    starts with the next lock."""

    def __init__(self, settings: QueueSettings, heartbeats_key: str, broker_id: str) -> None:
        self.settings = settings
        self.interval = min(max(0.05, settings.lock_ttl.total_seconds() / RENEWALS_PER_TTL),
                            max(0.05, settings.heartbeat_timeout.total_seconds() / RENEWALS_PER_TTL), 10.0)
        self.heartbeats_key = heartbeats_key
        self.broker_id = broker_id
        self.heartbeat = False
        self._locks: dict[str, ScopeLock] = {}
        self._mutex = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._closing = False

    def start(self, heartbeat: bool = False) -> LockKeeper:
        with self._mutex:
            self.heartbeat = self.heartbeat or heartbeat
            self._ensure_process()
        return self

    def _ensure_process(self) -> subprocess.Popen[str]:
        if self._process is not None and self._process.poll() is None:
            return self._process
        env = {**os.environ, "GRAPHINV_KEEPER_REDIS_URL": self.settings.redis_url(),
               "GRAPHINV_KEEPER_INTERVAL": str(self.interval),
               "GRAPHINV_KEEPER_HEARTBEATS": self.heartbeats_key if self.heartbeat else "",
               "GRAPHINV_KEEPER_BROKER_ID": self.broker_id}
        process = subprocess.Popen([sys.executable, "-m", "graphinv.distributed.keeper"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True, bufsize=1, env=env)
        self._process = process
        ready = threading.Event()
        threading.Thread(target=self._listen, args=(process, ready), name="lock-keeper-listener", daemon=True).start()
        # No lock before the keeper runs: on a loaded machine starting Python can take longer than a short TTL.
        if not ready.wait(KEEPER_START_SECONDS):
            process.kill()
            raise OSError(f"the lock keeper process did not start within {KEEPER_START_SECONDS:g} s")
        return process

    def _send(self, command: dict[str, Any]) -> None:
        process = self._ensure_process()
        assert process.stdin is not None
        process.stdin.write(json.dumps(command) + "\n")
        process.stdin.flush()

    def _listen(self, process: subprocess.Popen[str], ready: threading.Event) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                notice = json.loads(line)
                if "ready" in notice:
                    ready.set()
                    continue
                key, why = str(notice["lost"]), str(notice.get("why", "?"))
            except (ValueError, KeyError, TypeError):
                continue
            with self._mutex:
                lock = self._locks.pop(key, None)
            if lock is not None:
                lock.lose(why)
        process.wait()
        with self._mutex:
            if self._closing or process is not self._process:
                return
            orphans, self._locks = list(self._locks.values()), {}
        log.error("the lock keeper process ended (exit %s); the scopes it kept are abandoned", process.returncode)
        for lock in orphans:
            lock.lose("the lock keeper process ended")

    def keep(self, lock: ScopeLock) -> None:
        with self._mutex:
            self._locks[lock.key] = lock
            self._send({"keep": lock.key, "token": lock.token, "ttl_ms": _ms(lock.ttl)})

    def forget(self, lock: ScopeLock) -> None:
        with self._mutex:
            if self._locks.get(lock.key) is lock:
                del self._locks[lock.key]
            if self._process is not None and self._process.poll() is None:
                with contextlib.suppress(OSError, ValueError):
                    self._send({"forget": lock.key})

    def close(self) -> None:
        with self._mutex:
            self._closing = True
            process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError, ValueError):
            assert process.stdin is not None
            process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


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
        """The scope's lock, kept by the lock keeper; None while another worker holds it."""
        token = uuid.uuid4().hex
        ttl = self.settings.lock_ttl.total_seconds()
        key = f"{self._ns}:lock:{scope_key}"
        if not self.client.set(key, token, nx=True, px=_ms(ttl)):
            return None
        lock = ScopeLock(key, token, ttl, on_lost=on_lost)
        try:
            self.keeper.keep(lock)
        except (OSError, ValueError) as exc:  # no keeper: do not read a scope whose lock nobody renews
            self.release(lock)
            raise RuntimeError(f"cannot start the lock keeper: {exc}") from exc
        return lock

    def still_held(self, lock: ScopeLock) -> bool:
        """Checked right before the sweep: is the lock still this worker's? If so it is extended to a
        full TTL in the same step, so the sweep runs well within it whatever the keeper's timing."""
        if lock.lost.is_set():
            return False
        try:
            held = bool(self.client.eval(_HOLD, 1, lock.key, lock.token, _ms(lock.ttl)))
        except redis.RedisError:
            held = False
        if not held:
            lock.lose("Redis no longer holds it for this worker at the end of the read")
        return held

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
