"""The web channel's HTTP API: post a message, read the conversation, follow it live (SSE)."""

from __future__ import annotations

import json

from aiohttp import web
from redis.exceptions import RedisError

from connectors.base import IntakeUnavailable
from connectors.web.messages import SESSION_ID_RE, WebInputError, parse_chat_message
from gateway.infra.metrics import METRICS
from gateway.infra.ratelimit import RateLimiter, client_address
from gateway.infra.replies import REPLIES
from gateway.infra.resources import KEYS, REDIS, SESSIONS, SETTINGS
from gateway.infra.stream import STREAM
from gateway.web.errors import ApiError
from gateway.web.json_io import json_response, read_json
from ticketing.db.models.tickets import Ticket
from ticketing.tickets import store

routes = web.RouteTableDef()


def _session_id(request: web.Request) -> str:
    sid = request.match_info["session_id"]
    if not SESSION_ID_RE.match(sid):
        raise ApiError(400, "invalid_session_id", "session_id 格式不正确")
    return sid


@routes.post("/api/v1/web/messages")
async def post_message(request: web.Request) -> web.Response:
    app = request.app
    settings = app[SETTINGS]
    limiter = RateLimiter(app[REDIS], app[KEYS])
    payload = await read_json(request)
    try:
        msg = parse_chat_message(payload, max_text_chars=settings.max_text_chars)
    except WebInputError as exc:
        app[METRICS].rejected.labels("web", exc.code).inc()
        raise ApiError(exc.status, exc.code, exc.message) from None
    try:
        if not await limiter.allow("web-msg", client_address(request), settings.rate_limit_per_minute):
            raise ApiError(429, "rate_limited", "发送过于频繁，请稍后再试")
        await app[STREAM].publish(msg)
    except (IntakeUnavailable, RedisError, OSError) as exc:
        app[METRICS].rejected.labels("web", "unavailable").inc()
        raise ApiError(503, "intake_unavailable", "系统繁忙，消息未能提交，请稍后重试") from exc
    app[METRICS].accepted.labels("web").inc()
    return json_response({"message_id": msg.native_id}, status=202)


@routes.get("/api/v1/web/sessions/{session_id}/messages")
async def list_messages(request: web.Request) -> web.Response:
    sid = _session_id(request)
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        raise ApiError(400, "invalid_after", "after 必须是整数") from None
    async with request.app[SESSIONS]() as session:
        entries = await store.conversation_entries(session, "web", sid, after_id=after)
        ticket_ids = {e.ticket_id for e in entries if e.ticket_id}
        numbers = {}
        for tid in ticket_ids:
            numbers[tid] = (await session.get(Ticket, tid)).number
    return json_response({
        "messages": [
            {
                "id": e.id,
                "author": e.author,
                "author_name": e.author_name if e.author == "operator" else None,
                "text": e.text,
                "created_at": e.created_at.isoformat(),
                "ticket_no": numbers.get(e.ticket_id),
            }
            for e in entries
        ]
    })


@routes.get("/api/v1/web/sessions/{session_id}/events")
async def session_events(request: web.Request) -> web.StreamResponse:
    sid = _session_id(request)
    app = request.app
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
    })
    await response.prepare(request)
    await response.write(b"retry: 3000\n: connected\n\n")
    async for event in app[REPLIES].subscribe(app[KEYS].web_session(sid)):
        if event is None:
            await response.write(b": ping\n\n")
            continue
        data = json.dumps(event, ensure_ascii=False)
        await response.write(f"event: {event.get('type', 'message')}\ndata: {data}\n\n".encode())
    return response
