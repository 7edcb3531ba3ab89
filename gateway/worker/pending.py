"""A consumer's own pending entries: read back at full speed, and forgiven an outage's deliveries.

After an outage a worker holds hundreds of entries it read but could not commit.  Waiting for
XAUTOCLAIM's idle time and taking a batch per claim period drained 1,378 of them in 668 s;
XREADGROUP with an explicit id reads the consumer's own PEL right away, batch after batch.

Redis counts every delivery, including those an outage made fail.  ``forgive`` sets the count
back (XCLAIM … RETRYCOUNT, JUSTID so the claim itself is not counted), so only attempts that
really reached the database count toward ``HOTLINE_MAX_DELIVERIES``.

(Built on :class:`gateway.infra.stream.IntakeStream`'s Redis client and key names; these two
operations belong in that class, and move there once ``gateway/infra`` takes them.)
"""

from __future__ import annotations

from gateway.infra.stream import IntakeStream, StreamEntry


class OwnPending:
    def __init__(self, stream: IntakeStream, consumer: str) -> None:
        self.stream = stream
        self.consumer = consumer

    async def read(self, *, after: str, count: int) -> tuple[list[StreamEntry], list[str]]:
        """Up to ``count`` of this consumer's pending entries with ids above ``after``.

        Returns the entries and the ids whose stream entry is gone (trimmed or deleted: nothing
        to process, only to acknowledge).
        """
        stream = self.stream
        reply = await stream.redis.xreadgroup(stream.group, self.consumer, {stream.key: after}, count=count)
        items = [item for _key, entries in reply or [] for item in entries]
        if not items:
            return [], []
        counts = await self._delivery_counts(items[0][0], items[-1][0], len(items))
        entries, gone = [], []
        for raw_id, fields in items:
            entry_id = raw_id.decode()
            if not fields:
                gone.append(entry_id)
            else:
                entries.append(StreamEntry(entry_id, fields.get(b"msg", b""), counts.get(entry_id, 1)))
        return entries, gone

    async def _delivery_counts(self, first: bytes, last: bytes, n: int) -> dict[str, int]:
        stream = self.stream
        rows = await stream.redis.xpending_range(stream.key, stream.group, min=first, max=last, count=n,
                                                 consumername=self.consumer)
        return {row["message_id"].decode(): int(row["times_delivered"]) for row in rows}

    async def forgive(self, entry: StreamEntry) -> None:
        """Take back the delivery that an outage made fail (the entry stays pending, ours)."""
        stream = self.stream
        await stream.redis.xclaim(stream.key, stream.group, self.consumer, 0, [entry.entry_id],
                                  retrycount=max(entry.deliveries - 1, 0), justid=True)
