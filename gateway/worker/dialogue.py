"""The conversations' dialogue state in Redis: the bot's open question per citizen, with a TTL.

``ticketing.intake.gathering`` decides what to ask and reads the answers (its docstring says why the
gateway and not Rasa keeps this dialogue); the worker keeps its state here between two messages of a
citizen: read before the message's transaction, written in the same Redis round trip as the reply,
after the commit.  The key lives as long as the question may be answered, so an expired question is
simply gone; Redis outlives a gateway restart, and a lost state costs a question, never a ticket (the
release job hands every ticket still gathering to the operators).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import redis.asyncio as aioredis

from gateway.infra.keys import RedisKeys
from ticketing.db.models.base import utcnow

# A little longer than the question's window: the worker, not Redis, decides it has expired.
GRACE_SECONDS = 60


class DialogueStore:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys) -> None:
        self.redis = redis
        self.keys = keys

    def key(self, channel: str, sender_id: str) -> str:
        return self.keys.key("dialogue", channel, sender_id)

    async def get(self, channel: str, sender_id: str) -> dict[str, Any] | None:
        raw = await self.redis.get(self.key(channel, sender_id))
        if raw is None:
            return None
        try:
            state = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(state, dict) or _expired(state):
            return None
        return state

    def stage(self, pipe: Any, channel: str, sender_id: str, state: dict[str, Any] | None) -> None:
        """Queue the change an outcome asks for: None leaves the state, {} ends it, a dict replaces it."""
        if state is None:
            return
        key = self.key(channel, sender_id)
        ttl = _seconds_left(state) if state else 0
        if ttl <= 0:
            pipe.delete(key)
        else:
            pipe.set(key, orjson.dumps(state), ex=ttl + GRACE_SECONDS)


def _expires_at(state: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(state.get("expires_at")))
    except ValueError:
        return None


def _seconds_left(state: dict[str, Any]) -> int:
    expires = _expires_at(state)
    return 0 if expires is None else int((expires - utcnow()).total_seconds())


def _expired(state: dict[str, Any]) -> bool:
    expires = _expires_at(state)
    return expires is None or expires <= utcnow()
