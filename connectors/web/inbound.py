"""What a web chat POST becomes: the JSON body validated into an :class:`InboundMessage` (no I/O here)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from connectors import http_body
from connectors.base import Contact, InboundMessage, storable_text
from connectors.phones import InvalidPhone, normalize_phone
from connectors.web import texts

SESSION_ID_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")  # always fullmatch: "$" would let a final "\n" through
CLIENT_ID_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")
ALLOWED_FIELDS = {"session_id", "text", "name", "phone", "client_message_id"}


class WebInputError(ValueError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def read_json_body(request: web.Request, *, max_bytes: int) -> Any:
    """The request's JSON body, read at most ``max_bytes`` far (the app-wide limit is for forms)."""
    try:
        return await http_body.read_json(request, max_bytes=max_bytes)
    except http_body.BodyRefused as exc:
        raise WebInputError(exc.status, exc.code, exc.message) from None


def _phone(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except InvalidPhone:
        raise WebInputError(400, "invalid_phone", texts.INVALID_PHONE) from None


def _optional_str(payload: dict[str, Any], key: str, max_len: int, label: str) -> str | None:
    value = payload.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise WebInputError(400, f"invalid_{key}", texts.not_text(label))
    value = storable_text(value).strip()
    if len(value) > max_len:
        raise WebInputError(400, f"invalid_{key}", texts.too_long(label, max_len))
    return value or None


def has_client_id(msg: InboundMessage) -> bool:
    """Whether the message id was chosen by the client (``session:client id``), not by us."""
    return ":" in msg.native_id


def parse_chat_message(payload: Any, *, max_text_chars: int = 5000, now: datetime | None = None) -> InboundMessage:
    if not isinstance(payload, dict):
        raise WebInputError(400, "invalid_body", texts.INVALID_BODY)
    unknown = sorted(set(payload) - ALLOWED_FIELDS)
    if unknown:
        raise WebInputError(400, "unknown_field", texts.unknown_fields(unknown))
    session_id = payload.get("session_id")
    if not isinstance(session_id, str) or not SESSION_ID_RE.fullmatch(session_id):
        raise WebInputError(400, "invalid_session_id", texts.INVALID_SESSION_ID)
    text = payload.get("text")
    if not isinstance(text, str):
        raise WebInputError(400, "invalid_text", texts.INVALID_TEXT)
    text = storable_text(text).strip()
    if not text:
        raise WebInputError(400, "empty_text", texts.EMPTY_TEXT)
    if len(text) > max_text_chars:
        raise WebInputError(413, "text_too_long", texts.too_long("留言内容", max_text_chars))
    name = _optional_str(payload, "name", 50, "姓名")
    phone_raw = _optional_str(payload, "phone", 20, "电话")
    phone = _phone(phone_raw) if phone_raw else None
    client_id = payload.get("client_message_id")
    if client_id is not None and (not isinstance(client_id, str) or not CLIENT_ID_RE.fullmatch(client_id)):
        raise WebInputError(400, "invalid_client_message_id", texts.INVALID_CLIENT_MESSAGE_ID)
    # A client-chosen id makes a retried POST idempotent; otherwise every POST is new.
    native_id = f"{session_id}:{client_id}" if client_id else uuid.uuid4().hex  # see has_client_id
    return InboundMessage(
        channel="web",
        native_id=native_id,
        sender_id=session_id,
        text=text,
        received_at=now or datetime.now(timezone.utc),
        contact=Contact(name=name, phone=phone),
        metadata={"msg_type": "text"},
    )
