"""The web chat's HTTP API: post a message, read the conversation, follow it live (SSE).

Errors are JSON ``{"error": {"code", "message"}}`` with the HTTP status (400, 413, 415, 429,
503), answered here: the channel does not rely on the gateway's error middleware.
"""

from __future__ import annotations

import hashlib
import re

import orjson
from aiohttp import web
from redis.exceptions import RedisError

from connectors.base import ChannelContext, InboundMessage, IntakeUnavailable, OnceKey
from connectors.web import texts
from connectors.web.inbound import (
    SESSION_ID_RE,
    WebInputError,
    has_client_id,
    parse_chat_message,
    read_json_body,
)
from connectors.web.outbound import conversation_json
from connectors.web.settings import WebChatSettings

CHANNEL = "web"
MESSAGES_PATH = "/api/v1/web/messages"
CONVERSATION_PATH = "/api/v1/web/sessions/{session_id}/messages"
EVENTS_PATH = "/api/v1/web/sessions/{session_id}/events"
MAX_ENTRY_ID = 2**31 - 1
CLIENT_ID_MEMORY_SECONDS = 7 * 24 * 3600  # how long a client may retry one message


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json",
                        charset="utf-8")


def error_response(status: int, code: str, message: str) -> web.Response:
    return _json({"error": {"code": code, "message": message}}, status=status)


def _session_id(request: web.Request) -> str:
    sid = request.match_info["session_id"]
    if not SESSION_ID_RE.fullmatch(sid):
        raise WebInputError(400, "invalid_session_id", texts.INVALID_SESSION_ID_IN_PATH)
    return sid


def _after(raw: str) -> int:
    # Entry ids are 32-bit in the database: a bigger number is refused here, not by the driver.
    if not re.fullmatch(r"\d{1,10}", raw) or int(raw) > MAX_ENTRY_ID:
        raise WebInputError(400, "invalid_after", texts.INVALID_AFTER)
    return int(raw)


class WebChatApi:
    def __init__(self, settings: WebChatSettings, context: ChannelContext) -> None:
        self.settings = settings
        self.context = context

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(MESSAGES_PATH, self.post_message),
            web.get(CONVERSATION_PATH, self.list_messages),
            web.get(EVENTS_PATH, self.session_events),
        ]

    async def post_message(self, request: web.Request) -> web.Response:
        ctx = self.context
        try:
            payload = await read_json_body(request, max_bytes=self.settings.max_json_bytes)
            msg = parse_chat_message(payload, max_text_chars=self.settings.max_text_chars)
        except WebInputError as exc:
            ctx.count_rejected(CHANNEL, exc.code)
            return error_response(exc.status, exc.code, exc.message)
        try:
            # The rate limit, the retried-text check and the XADD: one round trip to Redis.
            admission = await ctx.publish_limited(request, "web-msg", self.settings.rate_limit_per_minute, msg,
                                                  self._first_text(msg))
        except (IntakeUnavailable, RedisError, OSError):
            ctx.count_rejected(CHANNEL, "unavailable")
            return error_response(503, "intake_unavailable", texts.INTAKE_UNAVAILABLE)
        if admission.refused == "rate_limited":
            return error_response(429, "rate_limited", texts.RATE_LIMITED)
        if admission.refused == "reused":
            ctx.count_rejected(CHANNEL, "client_message_id_reused")
            return error_response(409, "client_message_id_reused", texts.CLIENT_MESSAGE_ID_REUSED)
        ctx.count_accepted(CHANNEL)
        return _json({"message_id": msg.native_id}, status=202)

    def _first_text(self, msg: InboundMessage) -> OnceKey | None:
        """A retried POST (same ``client_message_id``) must carry the same text: the pipeline keeps
        the first one only, so a different text would be dropped without a word.  The first text's
        digest is kept for as long as a client may retry."""
        if not has_client_id(msg):
            return None
        key = f"{self.context.key_prefix(CHANNEL)}:client-message:{msg.native_id}"
        return OnceKey(key, hashlib.sha256(msg.text.encode()).hexdigest(), CLIENT_ID_MEMORY_SECONDS)

    async def list_messages(self, request: web.Request) -> web.Response:
        try:
            sid = _session_id(request)
            after = _after(request.query.get("after", "0"))
        except WebInputError as exc:
            return error_response(exc.status, exc.code, exc.message)
        entries = await self.context.read_conversation(CHANNEL, sid, after)
        return _json(conversation_json(entries))

    async def session_events(self, request: web.Request) -> web.StreamResponse:
        try:
            sid = _session_id(request)
        except WebInputError as exc:
            return error_response(exc.status, exc.code, exc.message)
        return await self.context.live_events(request, self.context.session_topic(sid))
