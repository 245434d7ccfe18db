"""The `queue:` section: where the scope queue lives and how its tasks retry.

    queue:
      distributed: false            # true: `graphinv scheduler start` works as with --distributed
      url: redis://redis:6379/0     # GRAPHINV_QUEUE_URL; may carry a password, never logged
      max_retries: 5                # attempts after the first; then the scope goes to the dead letters
      min_backoff: 5s               # first retry wait; doubles (with jitter) up to max_backoff
      max_backoff: 5m
      lock_ttl: 60s                 # a scope's lock expires this long after its worker stops renewing it
      heartbeat_timeout: 60s        # a worker silent this long is dead: its messages go back on the queue
      worker_threads: 8             # scopes one `graphinv worker` process reads at once
      neo4j_retry: 60s              # a worker's Neo4j transaction is retried this long, then its
                                    # scope fails and the queue retries it with backoff
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from pydantic import Field

from graphinv.settings.types import Duration, Secret, Section, secret_value


class QueueSettings(Section):
    distributed: bool = Field(default=False, description="`graphinv scheduler start` enqueues scope tasks for "
                                                         "workers (as --distributed) instead of reading them")
    url: Secret = Field(default=Secret("redis://127.0.0.1:6379/0"),
                        description="Redis URL of the scope queue (redis:// or rediss://)")
    namespace: str = Field(default="graphinv", description="prefix of every Redis key graphinv uses")
    queue_name: str = Field(default="scopes", description="the Dramatiq queue of scope tasks")
    max_retries: int = Field(default=5, ge=0, description="retries of a failed scope before it is dead-lettered")
    min_backoff: Duration = Field(default=timedelta(seconds=5), description="wait before the first retry")
    max_backoff: Duration = Field(default=timedelta(minutes=5), description="longest wait between retries")
    lock_ttl: Duration = Field(default=timedelta(seconds=60),
                               description="expiry of a scope's lock when its worker stops renewing it")
    busy_delay: Duration = Field(default=timedelta(seconds=10),
                                 description="how long a task for a scope that is being read waits to try again")
    heartbeat_timeout: Duration = Field(default=timedelta(seconds=60),
                                        description="a worker silent this long is dead; its tasks are requeued")
    time_limit: Duration = Field(default=timedelta(hours=2), description="longest read of one scope")
    cycle_timeout: Duration = Field(default=timedelta(hours=6),
                                    description="how long the scheduler waits for a job's scopes")
    worker_threads: int = Field(default=8, ge=1, le=256, description="scopes one worker process reads at once")
    neo4j_retry: Duration = Field(default=timedelta(seconds=60),
                                  description="how long a worker retries a Neo4j transaction (deadlock, lost "
                                              "server) before its scope fails and goes back to the queue")

    def redis_url(self) -> str:
        url = secret_value(self.url) or ""
        if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("queue.url must be a redis://, rediss:// or unix:// URL")
        return url

    def where(self) -> str:
        """The Redis endpoint for messages: host and port, never the password."""
        parts = urlsplit(secret_value(self.url) or "")
        return f"{parts.hostname}:{parts.port or 6379}" if parts.hostname else parts.path
