"""Where the worker's jobs leave, in Redis, what the console's pages read: the rising topics
(computed with jieba in the worker, so no page waits for it) and the 并单 clusters."""

from __future__ import annotations

from gateway.infra.keys import RedisKeys

# Several periods' worth: a stopped worker's topics disappear rather than go stale for ever.
RISING_TTL_SECONDS = 900


def rising_topics_key(keys: RedisKeys) -> str:
    return keys.key("analytics", "rising")


# The 并单 clusters the worker keeps (gateway/worker/clusters.py): a stopped worker's clusters expire
# rather than go stale, and the pages then compute their own.
CLUSTERS_TTL_SECONDS = 600


def clusters_key(keys: RedisKeys) -> str:
    return keys.key("duplicates", "clusters")
