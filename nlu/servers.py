"""The Rasa servers of one NLU client: places on them, batches, and which one answers.

`base_url` may name several Rasa servers serving the same model, comma-separated (`hotline run` with
HOTLINE_NLU_PROCESSES > 1, or RASA_URL in production): each parse goes to the least busy one (ties in
turn), and a server that refuses or fails is skipped for a few seconds while the others answer.

A Rasa server parses one message at a time: a hundred parses sent together only queue inside it,
each waiting behind the others until the HTTP timeout gives up on it (while the server still does
the work). So each server gets at most `PER_SERVER` parses at once (a few, not one: a Rasa fed
one parse at a time spends about 1.8 times the CPU on each, bench/intake_nlu.py); the others wait
here, earliest deadline first (`NluClient.parse(text, deadline=...)`; none: after every deadline,
in arrival order). A parse still waiting at its deadline never reaches Rasa: the client hands the
message off (`handoff: true`, unclassified), so a burst costs classification late, never the reply's time; the
worker's backfill classifies such tickets afterwards (gateway/worker/reclassify.py).

Parses that get their places on the servers together (the worker's pass, a burst) go to a server
as one request, `POST /webhooks/parse/batch` (nlu/rasa_batch.py, up to half a server's places in
one batch, so a second batch waits inside Rasa while the first is answered): one HTTP exchange per
message cost the worker more CPU than a short message's parse (bench/intake_nlu.py). A server
without that route (a plain `rasa run` at RASA_URL) gets one `/model/parse` per message instead.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

log = logging.getLogger(__name__)

DOWN_SECONDS = 5.0  # a server that failed is skipped this long (unless every server failed)
PER_SERVER = 16  # parses sent to one Rasa server at once: it parses them one after the other, never idle
BATCH_PATH = "/webhooks/parse/batch"


class RasaPool:
    """Sends parses to the least busy server, at most `per_server` on each, the rest waiting here."""

    def __init__(self, base_url: str | None, *, timeout: float, session: aiohttp.ClientSession | None = None,
                 per_server: int = PER_SERVER) -> None:
        self._urls: tuple[str, ...] = ()
        self.per_server = max(1, per_server)
        self.max_batch = max(1, self.per_server // 2)
        self.timeout = timeout
        self._sending = 0  # parses on their way to a server (at most per_server x servers)
        # Parses waiting for a free server: (deadline, arrival, future), earliest deadline first.
        self._queue: list[tuple[float, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()
        self.expired = 0  # parses that waited past their deadline and never reached a server
        self._busy: dict[str, int] = {}
        self._down_until: dict[str, float] = {}
        self._turn = 0
        self.rasa_requests = 0  # parses actually sent to a server
        self.rasa_batches = 0  # requests that carried several parses
        # Parses that got their places in this turn of the event loop, sent together at its end.
        self._outbox: list[tuple[str, asyncio.Future[dict | None]]] = []
        self._flush_scheduled = False
        self._sends: set[asyncio.Task[None]] = set()
        self._single_only: set[str] = set()  # servers without the batch route
        self._session = session
        self._own_session = session is None
        self.base_url = base_url

    @property
    def base_url(self) -> str | None:
        """The Rasa server(s), comma-separated; None when there is none."""
        return ",".join(self._urls) or None

    @base_url.setter
    def base_url(self, value: str | None) -> None:
        urls = tuple(u.strip().rstrip("/") for u in (value or "").split(",") if u.strip())
        if urls == self._urls:
            return
        self._urls = urls
        self._busy = {url: self._busy.get(url, 0) for url in urls}
        self._down_until = {}
        self._single_only = set()

    @property
    def urls(self) -> tuple[str, ...]:
        return self._urls

    async def parse(self, text: str, deadline: float | None = None) -> dict | None:
        """Rasa's answer for ``text``, or None (no server, none answered, or ``deadline`` passed
        while it waited for a place)."""
        if not self._urls or not await self._turn_to_send(deadline):
            return None
        try:
            return await self._parse_together(text)
        finally:
            self._next_turn()

    async def get_json(self, path: str) -> Any:
        """The first server's answer that comes (in order of preference); None when none answers."""
        tried: set[str] = set()
        while (url := self._pick(tried)) is not None:
            tried.add(url)
            try:
                async with self.http().get(f"{url}{path}", timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                    if resp.status == 200:
                        return await resp.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, OSError):
                pass
        return None

    async def close(self) -> None:
        for task in list(self._sends):
            task.cancel()
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _pick(self, tried: set[str]) -> str | None:
        """The least busy server not tried yet, preferring those not recently failed; ties in turn."""
        now = time.monotonic()
        left = [u for u in self._urls if u not in tried]
        if not left:
            return None
        up = [u for u in left if self._down_until.get(u, 0.0) <= now] or left
        self._turn = (self._turn + 1) % len(up)
        rotated = up[self._turn:] + up[:self._turn]
        return min(rotated, key=lambda u: self._busy.get(u, 0))

    def http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    async def _turn_to_send(self, deadline: float | None) -> bool:
        """Wait for a free place on a server; False when ``deadline`` passed first (nothing held)."""
        if deadline is not None and deadline <= time.monotonic():
            self.expired += 1  # already due: a parse now would only make the reply later
            return False
        while self._queue and self._queue[0][2].done():  # waiters that gave up
            heapq.heappop(self._queue)
        capacity = self.per_server * max(1, len(self._urls))
        if self._sending < capacity and not self._queue:
            self._sending += 1
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._queue, (math.inf if deadline is None else deadline, next(self._arrivals), waiter))
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            await asyncio.wait({waiter}, timeout=timeout)
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._next_turn()  # handed a place just as we were cancelled: pass it on
            waiter.cancel()
            raise
        if not waiter.done():
            waiter.cancel()  # skipped by _next_turn; dropped from the heap lazily
            self.expired += 1
            return False
        return True  # the place of a finished parse, handed over (_sending unchanged)

    def _next_turn(self) -> None:
        """A parse finished: hand its place to the first waiter still waiting, or free it."""
        while self._queue:
            _deadline, _n, waiter = heapq.heappop(self._queue)
            if not waiter.done():
                waiter.set_result(None)
                return
        self._sending = max(0, self._sending - 1)

    async def _parse_together(self, text: str) -> dict | None:
        """This parse, in one request with the others that got their places in the same turn."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict | None] = loop.create_future()
        self._outbox.append((text, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        """Split this turn's parses over the servers, at most `max_batch` in one request."""
        self._flush_scheduled = False
        pending, self._outbox = self._outbox, []
        size = max(1, min(self.max_batch, math.ceil(len(pending) / max(1, len(self._urls)))))
        for start in range(0, len(pending), size):
            task = asyncio.ensure_future(self._send(pending[start:start + size]))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    async def _send(self, batch: list[tuple[str, asyncio.Future[dict | None]]]) -> None:
        try:
            answers = await self._batch_on_servers([text for text, _future in batch]) if len(batch) > 1 else None
            if answers is not None:
                for (_text, future), answer in zip(batch, answers):
                    if not future.done():
                        future.set_result(answer)
            else:  # each answered as it comes: a slow parse holds no other
                await asyncio.gather(*(self._answer_alone(text, future) for text, future in batch))
        finally:  # even when cancelled (the client closes): nobody waits forever
            for _text, future in batch:
                if not future.done():
                    future.set_result(None)

    async def _answer_alone(self, text: str, future: asyncio.Future[dict | None]) -> None:
        answer = await self._parse_on_servers(text)
        if not future.done():
            future.set_result(answer)

    async def _batch_on_servers(self, texts: list[str]) -> list[dict | None] | None:
        """The texts parsed in one request by the least busy server that has the batch route; a refusal
        or an error answer tries the next one, a timeout does not. None: no server could take a batch
        but one without the route may parse them one by one."""
        results = await self._post_on_servers(BATCH_PATH, {"texts": texts}, len(texts), set(self._single_only),
                                              read=lambda answer: _batch_results(answer, len(texts)))
        if results is _TIMED_OUT:
            return [None] * len(texts)
        if results is None:
            return None if self._single_only else [None] * len(texts)
        self.rasa_batches += 1
        return [result if isinstance(result, dict) else None for result in results]

    async def _parse_on_servers(self, text: str) -> dict | None:
        """One parse on the least busy server; a refusal or an error answer tries the next one.
        A timeout does not: the time the caller grants is spent."""
        data = await self._post_on_servers("/model/parse", {"text": text}, 1, set(), read=lambda answer: answer)
        return data if isinstance(data, dict) else None

    async def _post_on_servers(self, path: str, body: dict, parses: int, tried: set[str],
                               read: Callable[[Any], Any]) -> Any:
        """``read`` of the first server's 200 answer (which raises ValueError on a malformed one), in
        order of preference; an error answer or a refusal tries the next server, a timeout returns
        ``_TIMED_OUT``: the time the caller grants is spent. None: no server answered."""
        while (url := self._pick(tried)) is not None:
            tried.add(url)
            self._busy[url] = self._busy.get(url, 0) + parses
            self.rasa_requests += parses
            try:
                async with self.http().post(
                    f"{url}{path}", json=body, timeout=aiohttp.ClientTimeout(total=self.timeout)
                ) as resp:
                    if resp.status in (404, 405) and path == BATCH_PATH:  # a Rasa without nlu/credentials.yml
                        self._single_only.add(url)
                        self.rasa_requests -= parses
                        continue
                    if resp.status != 200:
                        log.warning("NLU: %s%s answered HTTP %s", url, path, resp.status)
                        self._down_until[url] = time.monotonic() + DOWN_SECONDS
                        continue
                    # orjson: a parse answer is ~4 KB of JSON a message, decoded in the worker's hot path.
                    answer = read(orjson.loads(await resp.read()))
            except asyncio.TimeoutError:
                log.warning("NLU: Rasa at %s did not answer %d parse(s) within %.1f s", url, parses, self.timeout)
                self._down_until[url] = time.monotonic() + DOWN_SECONDS
                return _TIMED_OUT
            except (aiohttp.ClientError, ValueError, OSError) as exc:
                log.warning("NLU: Rasa unavailable at %s: %s", url, exc or type(exc).__name__)
                self._down_until[url] = time.monotonic() + DOWN_SECONDS
                continue
            finally:
                self._busy[url] = max(0, self._busy.get(url, parses) - parses)
            self._down_until.pop(url, None)
            return answer
        return None


_TIMED_OUT = object()  # a server took the parses and did not answer in time


def _batch_results(answer: Any, count: int) -> list:
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list) or len(results) != count:
        raise ValueError("the batch answer does not hold one result per text")
    return results
