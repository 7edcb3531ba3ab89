"""The web chat's HTTP API: post a message, read the conversation, follow it live (SSE).

Errors are JSON ``{"error": {"code", "message"}}`` with the HTTP status (400, 413, 415, 429,
503), answered here: the channel does not rely on the gateway's error middleware.
"""

from __future__ import annotations

import hashlib
import json
import re

from aiohttp import web
from redis.exceptions import RedisError

from connectors.base import ChannelContext, InboundMessage, IntakeUnavailable
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
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


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
            if not await ctx.allow_request(request, "web-msg", self.settings.rate_limit_per_minute):
                return error_response(429, "rate_limited", texts.RATE_LIMITED)
            if has_client_id(msg) and not await self._same_text_as_before(msg):
                ctx.count_rejected(CHANNEL, "client_message_id_reused")
                return error_response(409, "client_message_id_reused", texts.CLIENT_MESSAGE_ID_REUSED)
            await ctx.publish(msg)
        except (IntakeUnavailable, RedisError, OSError):
            ctx.count_rejected(CHANNEL, "unavailable")
            return error_response(503, "intake_unavailable", texts.INTAKE_UNAVAILABLE)
        ctx.count_accepted(CHANNEL)
        return _json({"message_id": msg.native_id}, status=202)

    async def _same_text_as_before(self, msg: InboundMessage) -> bool:
        """A retried POST (same ``client_message_id``) must carry the same text: the pipeline keeps
        the first one only, so a different text would be dropped without a word.  The first text's
        digest is kept for as long as a client may retry."""
        key = f"{self.context.key_prefix(CHANNEL)}:client-message:{msg.native_id}"
        digest = hashlib.sha256(msg.text.encode()).hexdigest()
        if await self.context.redis.set(key, digest, nx=True, ex=CLIENT_ID_MEMORY_SECONDS):
            return True
        first = await self.context.redis.get(key)
        return first is None or first.decode() == digest

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
