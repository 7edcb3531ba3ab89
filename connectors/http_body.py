"""The one reader of JSON request bodies, for the gateway's APIs and the channels that take JSON.

``request.content.read(n)`` returns what has arrived so far, not ``n`` bytes: a body split
across TCP segments (or sent chunked) was cut short and refused as invalid JSON.  This reads
until the end of the body or one byte past the limit (413), whatever the framing.

JSON is UTF-8 (RFC 8259): any other declared charset is refused (415) rather than looked up,
and text that cannot be stored (a lone surrogate such as ``"\\ud800"``) or structures too deep
to walk are refused as the client's error (400), never a 500.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:  # pragma: no cover
    from aiohttp import web

JSON_CHARSETS = frozenset({"utf-8", "utf8"})
# Far deeper than any body of ours; well under Python's recursion limit, so walking it is safe.
MAX_DEPTH = 32
_LONG_NUMBER = re.compile(rb"\d{19}")


class BodyRefused(ValueError):
    """The body is refused: ``status`` (400, 413, 415), a stable ``code`` and a Chinese message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def too_large(max_bytes: int) -> BodyRefused:
    return BodyRefused(413, "payload_too_large", f"请求内容不能超过 {max_bytes // 1024} KB")


async def read_body(request: web.Request, *, max_bytes: int) -> bytes:
    """The whole body, however it was framed; 413 as soon as it is longer than ``max_bytes``."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large(max_bytes)
    content = request.content
    if content.is_eof():
        # The whole body came with the headers (nearly every API request): it is all buffered.
        data = content.read_nowait()
        if len(data) > max_bytes:
            raise too_large(max_bytes)
        return data
    body = bytearray()
    async for chunk in content.iter_any():
        body += chunk
        if len(body) > max_bytes:
            raise too_large(max_bytes)
    return bytes(body)


def parse_json(raw: bytes) -> Any:
    """JSON text (UTF-8) as Python values; ``BodyRefused`` (400) for anything we could not store."""
    if not _LONG_NUMBER.search(raw):
        try:
            # orjson takes only what the stdlib takes too, less lone surrogates and invalid UTF-8,
            # in a tenth of the time; what it refuses goes the stdlib's way for the same answer as
            # ever.  (Past 64 bits it reads an integer as a float: such bodies go the stdlib's way.)
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            _check_depth(value)
            return value
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BodyRefused(400, "invalid_json", "请求体不是合法的 JSON") from None
    _check_values(value)
    return value


def _check_values(value: Any) -> None:
    """Refuse lone surrogates (no UTF-8 encoding: the stream and the database cannot take them)
    and nesting deeper than ``MAX_DEPTH`` (iteratively: the check itself cannot overflow)."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if not _encodable(item):
                raise BodyRefused(400, "invalid_characters", "请求中含有无法识别的字符")
        elif isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                raise BodyRefused(400, "invalid_json", "请求体嵌套过深")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)


def _check_depth(value: Any) -> None:
    """``_check_values`` for what orjson parsed: its strings are all encodable already."""
    pending: list[tuple[Any, int]] = [(value, 0)] if isinstance(value, (dict, list)) else []
    while pending:
        item, depth = pending.pop()
        if depth >= MAX_DEPTH:
            raise BodyRefused(400, "invalid_json", "请求体嵌套过深")
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def read_json(request: web.Request, *, max_bytes: int) -> Any:
    """The request's JSON body: 415 unless ``application/json`` in UTF-8, 413 over ``max_bytes``."""
    if request.content_type != "application/json":
        raise BodyRefused(415, "unsupported_media_type", "请使用 Content-Type: application/json 提交")
    charset = (request.charset or "utf-8").lower()
    if charset not in JSON_CHARSETS:
        raise BodyRefused(415, "unsupported_charset", "JSON 请求体必须使用 UTF-8 编码")
    return parse_json(await read_body(request, max_bytes=max_bytes))
