"""The deployment's namespace in Redis; each owner builds its own keys under it.

Several deployments (or test runs) can share one Redis server: every key starts with
``HOTLINE_REDIS_PREFIX``.  Which keys exist is decided beside their owner (the intake stream,
the reply bus, the rate limiter, the channels, the NLU administration), not here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RedisKeys:
    prefix: str

    def key(self, *parts: str | int) -> str:
        return ":".join((self.prefix, *(str(part) for part in parts)))
