"""The lock keeper process: renews one worker's scope locks, and its queue heartbeat, outside the worker.

Why a process of its own: under load a worker's threads (SDK parsing, the ingest writer, Dramatiq's
own threads) hold the GIL in turn, and a renewal thread inside the worker was measured waking up
to 4 s late on a loaded machine; a few such stalls in a row outlast a lock's TTL, the lock expires
while the scope is still being read, and the read must be thrown away. This process does nothing
else: it sleeps, sends one pipelined round trip per tick, and is scheduled as soon as it wakes.

Started by the worker as `python -m graphinv.distributed.keeper` (tasks.py: LockKeeper); not a
command for people. It imports only redis-py, so it starts in a fraction of a second.

stdin, one JSON object per line, from the worker:
    {"keep": "<lock key>", "token": "<token>", "ttl_ms": 60000}   renew this lock until forgotten
    {"forget": "<lock key>"}
stdout, to the worker:
    {"ready": "1"}                          once, when it runs (the worker takes no lock before)
    {"lost": "<lock key>", "why": "..."}    Redis no longer holds the lock for this token
Environment: GRAPHINV_KEEPER_REDIS_URL, GRAPHINV_KEEPER_INTERVAL (seconds between ticks),
GRAPHINV_KEEPER_HEARTBEATS (Dramatiq's heartbeat key; empty: no heartbeat), GRAPHINV_KEEPER_BROKER_ID.

It ends when its stdin closes or its parent changes (the worker stopped or was killed): it then
renews nothing, so the worker's locks expire after their TTL and its heartbeat goes stale.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

# Extends a lock only if it still holds this worker's token (never someone else's lock).
RENEW_SCRIPT = ("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) "
                "else return 0 end")


class Keeper:
    def __init__(self, url: str, interval: float, heartbeats_key: str, broker_id: str) -> None:
        self.interval = interval
        # Timeouts of one tick and no retries: an unanswered renewal is simply sent again next tick.
        self.client = redis.Redis.from_url(url, socket_connect_timeout=interval, socket_timeout=interval,
                                           retry=Retry(NoBackoff(), 0))
        self.renew = self.client.register_script(RENEW_SCRIPT)
        self.heartbeats_key = heartbeats_key
        self.broker_id = broker_id
        self.locks: dict[str, tuple[str, int]] = {}  # key -> (token, ttl ms)
        self.mutex = threading.Lock()
        self.done = threading.Event()
        self.out = threading.Lock()

    def read_commands(self) -> None:
        for line in sys.stdin:
            try:
                command = json.loads(line)
            except ValueError:
                continue
            with self.mutex:
                if "keep" in command:
                    self.locks[str(command["keep"])] = (str(command["token"]), int(command["ttl_ms"]))
                elif "forget" in command:
                    self.locks.pop(str(command["forget"]), None)
        self.done.set()  # stdin closed: the worker is gone

    def tell(self, message: dict[str, str]) -> None:
        with self.out:
            try:
                sys.stdout.write(json.dumps(message) + "\n")
                sys.stdout.flush()
            except (BrokenPipeError, ValueError):  # the worker is gone
                self.done.set()

    def tick(self) -> None:
        with self.mutex:
            locks = list(self.locks.items())
        if not locks and not self.heartbeats_key:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for key, (token, ttl_ms) in locks:
                self.renew(keys=[key], args=[token, ttl_ms], client=pipe)
            if self.heartbeats_key:
                pipe.zadd(self.heartbeats_key, {self.broker_id: int(time.time() * 1000)})
            answers = pipe.execute(raise_on_error=False)
        except redis.RedisError as exc:
            print(f"lock keeper: Redis did not answer ({type(exc).__name__}); trying again next tick",
                  file=sys.stderr, flush=True)
            return
        for (key, (token, _)), answer in zip(locks, answers, strict=False):
            if isinstance(answer, Exception) or answer:
                continue
            with self.mutex:
                if self.locks.get(key, (None,))[0] != token:
                    continue  # forgotten (released) meanwhile
                del self.locks[key]
            self.tell({"lost": key, "why": "Redis no longer holds it for this worker (it expired or was taken)"})

    def run(self) -> None:
        parent = os.getppid()
        threading.Thread(target=self.read_commands, name="keeper-commands", daemon=True).start()
        self.tell({"ready": "1"})
        due = time.monotonic()
        while not self.done.is_set() and os.getppid() == parent:
            self.tick()
            due = max(due + self.interval, time.monotonic())
            self.done.wait(max(0.0, due - time.monotonic()))


def main() -> None:
    # Ctrl-C or a SIGTERM to the whole process group is for the worker: while it shuts down, its
    # scopes stay locked; the keeper ends when the worker closes its stdin (or dies).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    keeper = Keeper(os.environ["GRAPHINV_KEEPER_REDIS_URL"], float(os.environ["GRAPHINV_KEEPER_INTERVAL"]),
                    os.environ.get("GRAPHINV_KEEPER_HEARTBEATS", ""), os.environ.get("GRAPHINV_KEEPER_BROKER_ID", ""))
    keeper.run()


if __name__ == "__main__":
    main()
