"""Where the worker's analytics job leaves, in Redis, what the analytics pages read: the rising
topics (computed with jieba in the worker, so no page waits for it)."""

from __future__ import annotations

from gateway.infra.keys import RedisKeys

# Several periods' worth: a stopped worker's topics disappear rather than go stale for ever.
RISING_TTL_SECONDS = 900


def rising_topics_key(keys: RedisKeys) -> str:
    return keys.key("analytics", "rising")
