"""Every citizen-facing text of the web chat API (Simplified Chinese): its JSON error messages."""

from __future__ import annotations

INVALID_BODY = "请求体必须是 JSON 对象"
INVALID_SESSION_ID = "session_id 必须是 16–64 位字母、数字、下划线或连字符"
INVALID_SESSION_ID_IN_PATH = "session_id 格式不正确"
INVALID_AFTER = "after 必须是不小于 0 的整数"
INVALID_TEXT = "text 必须是文本"
EMPTY_TEXT = "留言内容不能为空"
INVALID_PHONE = "手机号格式不正确，请填写11位手机号或带区号的固定电话"
INVALID_CLIENT_MESSAGE_ID = "client_message_id 格式不正确"
CLIENT_MESSAGE_ID_REUSED = "该 client_message_id 已用于另一条消息，请为新消息生成新的 ID"
RATE_LIMITED = "发送过于频繁，请稍后再试"
INTAKE_UNAVAILABLE = "系统繁忙，消息未能提交，请稍后重试"


def unknown_fields(names: list[str]) -> str:
    return f"不支持的字段：{', '.join(names)}"


def not_text(label: str) -> str:
    return f"{label}必须是文本"


def too_long(label: str, max_len: int) -> str:
    return f"{label}不能超过 {max_len} 个字"
