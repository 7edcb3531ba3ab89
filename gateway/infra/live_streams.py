"""How many live (SSE) streams a process holds open, per client address and in total.

An open stream costs a little memory and a file descriptor, not a Redis connection (the
fan-out shares one), but an anonymous client could still open thousands: each client address
gets ``HOTLINE_LIVE_STREAMS_PER_CLIENT`` streams (429 beyond), the process
``HOTLINE_LIVE_STREAMS_TOTAL`` (503 beyond).  The counts are per process, like the streams.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

from aiohttp import web


class StreamRefused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


TOO_MANY_FOR_CLIENT = (429, "too_many_streams", "您打开的实时连接过多，请关闭多余的页面后重试")
TOO_MANY_IN_TOTAL = (503, "live_streams_full", "实时服务繁忙，请稍后再试")


class LiveStreams:
    def __init__(self, *, per_client: int, total: int) -> None:
        self.per_client = per_client
        self.total = total
        self._by_client: Counter[str] = Counter()
        self._open = 0

    @property
    def open(self) -> int:
        return self._open

    @contextlib.contextmanager
    def admit(self, client: str) -> Iterator[None]:
        """Hold one stream for ``client`` while inside; raise StreamRefused over a cap."""
        if self._by_client[client] >= self.per_client:
            raise StreamRefused(*TOO_MANY_FOR_CLIENT)
        if self._open >= self.total:
            raise StreamRefused(*TOO_MANY_IN_TOTAL)
        self._by_client[client] += 1
        self._open += 1
        try:
            yield
        finally:
            self._open -= 1
            self._by_client[client] -= 1
            if self._by_client[client] <= 0:
                del self._by_client[client]


LIVE_STREAMS: web.AppKey[LiveStreams] = web.AppKey("live_streams", LiveStreams)
