"""Validation of web chat messages into :class:`InboundMessage` (no I/O here)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Any

from connectors.base import Contact, InboundMessage
from connectors.phones import InvalidPhone, normalize_phone

SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
ALLOWED_FIELDS = {"session_id", "text", "name", "phone", "client_message_id"}


class WebInputError(ValueError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _phone(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except InvalidPhone:
        raise WebInputError(400, "invalid_phone", "手机号格式不正确，请填写11位手机号或带区号的固定电话") from None


def _optional_str(payload: dict[str, Any], key: str, max_len: int, label: str) -> str | None:
    value = payload.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise WebInputError(400, f"invalid_{key}", f"{label}必须是文本")
    value = value.strip()
    if len(value) > max_len:
        raise WebInputError(400, f"invalid_{key}", f"{label}不能超过 {max_len} 个字")
    return value or None


def parse_chat_message(payload: Any, *, max_text_chars: int = 5000, now: datetime | None = None) -> InboundMessage:
    if not isinstance(payload, dict):
        raise WebInputError(400, "invalid_body", "请求体必须是 JSON 对象")
    unknown = sorted(set(payload) - ALLOWED_FIELDS)
    if unknown:
        raise WebInputError(400, "unknown_field", f"不支持的字段：{', '.join(unknown)}")
    session_id = payload.get("session_id")
    if not isinstance(session_id, str) or not SESSION_ID_RE.match(session_id):
        raise WebInputError(400, "invalid_session_id", "session_id 必须是 16–64 位字母、数字、下划线或连字符")
    text = payload.get("text")
    if not isinstance(text, str):
        raise WebInputError(400, "invalid_text", "text 必须是文本")
    text = text.strip()
    if not text:
        raise WebInputError(400, "empty_text", "留言内容不能为空")
    if len(text) > max_text_chars:
        raise WebInputError(413, "text_too_long", f"留言内容不能超过 {max_text_chars} 个字")
    name = _optional_str(payload, "name", 50, "姓名")
    phone_raw = _optional_str(payload, "phone", 20, "电话")
    phone = _phone(phone_raw) if phone_raw else None
    client_id = payload.get("client_message_id")
    if client_id is not None and (not isinstance(client_id, str) or not CLIENT_ID_RE.match(client_id)):
        raise WebInputError(400, "invalid_client_message_id", "client_message_id 格式不正确")
    # A client-chosen id makes a retried POST idempotent; otherwise every POST is new.
    native_id = f"{session_id}:{client_id}" if client_id else uuid.uuid4().hex
    return InboundMessage(
        channel="web",
        native_id=native_id,
        sender_id=session_id,
        text=text,
        received_at=now or datetime.now(timezone.utc),
        contact=Contact(name=name, phone=phone),
        metadata={"msg_type": "text"},
    )
