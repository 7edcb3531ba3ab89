"""Checks on what people type into the console: a person gets a clear refusal, never a truncation."""

from __future__ import annotations

import re
from typing import Any

from ticketing.errors import ConsoleError

MAX_TEXT = 5000
# Control characters but tab and line breaks: PostgreSQL refuses NUL, and none of them is meant.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(text: Any, what: str = "内容") -> str:
    if isinstance(text, str):
        text = _SURROGATE.sub("\ufffd", _CONTROL.sub("", text)).strip()
    if not isinstance(text, str) or not text:
        raise ConsoleError(400, "empty_text", f"{what}不能为空")
    if len(text) > MAX_TEXT:
        raise ConsoleError(413, "text_too_long", f"{what}不能超过 {MAX_TEXT} 个字")
    return text
