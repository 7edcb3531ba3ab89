"""Checks on what people type into the console: a person gets a clear refusal, never a truncation."""

from __future__ import annotations

from typing import Any

from ticketing.errors import ConsoleError

MAX_TEXT = 5000


def clean_text(text: Any, what: str = "内容") -> str:
    if not isinstance(text, str) or not text.strip():
        raise ConsoleError(400, "empty_text", f"{what}不能为空")
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise ConsoleError(413, "text_too_long", f"{what}不能超过 {MAX_TEXT} 个字")
    return text
