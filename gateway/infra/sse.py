"""The one server-sent-events loop: a live topic relayed to a browser (aiohttp-sse).

Every SSE endpoint (the web chat's session events, the console's live queue) is this loop over
an async iterator of events; the iterator is advanced once before the response starts, so a
subscription is live before the browser sees the stream open and no event can fall between
"connected" and "listening".  ``None`` items are the subscription's heartbeats: aiohttp-sse sends
its own pings, so they only give the loop a chance to notice a cancelled request.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from aiohttp_sse import sse_response

from gateway.infra.live_streams import LIVE_STREAMS, StreamRefused
from gateway.infra.ratelimit import client_address

PING_SECONDS = 15.0
RETRY_MS = 3000
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

EventName = Callable[[dict[str, Any]], str]


def event_type(event: dict[str, Any]) -> str:
    return str(event.get("type") or "message")


async def relay(request: web.Request, events: AsyncIterator[dict[str, Any] | None], *,
                name: EventName = event_type) -> web.StreamResponse:
    """Stream ``events`` to the browser until it goes away or the server stops; 429/503 JSON
    instead when the client or the process already holds as many streams as allowed."""
    async with contextlib.aclosing(events):
        try:
            with request.config_dict[LIVE_STREAMS].admit(client_address(request)):
                return await _stream(request, events, name)
        except StreamRefused as refused:
            return _refusal(refused)


async def _stream(request: web.Request, events: AsyncIterator[dict[str, Any] | None],
                  name: EventName) -> web.StreamResponse:
    await anext(events, None)  # subscribed before the stream opens
    response = None
    try:
        async with sse_response(request, headers=_HEADERS, ping_interval=PING_SECONDS) as response:
            # A comment first: the browser sees the stream open at once, and learns the retry delay.
            await response.write(f"retry: {RETRY_MS}\n: connected\n\n".encode())
            async for event in events:
                if event is None:
                    # A browser that left (another page, a closed tab) is noticed here: aiohttp does not
                    # cancel the handler and aiohttp-sse's failed ping only stops pinging, so without this
                    # the stream would hold its place (HOTLINE_LIVE_STREAMS_PER_CLIENT) until an event.
                    if request.transport is None or request.transport.is_closing():
                        break
                    continue
                await response.send(json.dumps(event, ensure_ascii=False), event=name(event))
    except (ConnectionResetError, TimeoutError):
        pass  # the browser went away or stalled; the subscription closes with the iterator
    return response if response is not None else web.Response(status=204)


def _refusal(refused: StreamRefused) -> web.Response:
    return web.json_response({"error": {"code": refused.code, "message": refused.message}},
                             status=refused.status, headers={"Retry-After": str(RETRY_MS // 1000)},
                             dumps=lambda data: json.dumps(data, ensure_ascii=False))
