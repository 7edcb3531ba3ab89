"""Helpers shared by the API handlers."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gateway.web.errors import ApiError

MAX_JSON_BYTES = 64 * 1024


async def read_json(request: web.Request, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "请使用 Content-Type: application/json 提交")
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError(413, "payload_too_large", f"请求内容不能超过 {max_bytes // 1024} KB")
    raw = await request.content.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise ApiError(413, "payload_too_large", f"请求内容不能超过 {max_bytes // 1024} KB")
    try:
        return json.loads(raw.decode(request.charset or "utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_json", "请求体不是合法的 JSON") from None


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def read_json_object(request: web.Request, *, max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """A JSON object body; an empty body is an empty object."""
    if request.content_length in (None, 0) and request.content_type != "application/json":
        return {}
    payload = await read_json(request, max_bytes=max_bytes)
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_body", "请求体必须是 JSON 对象")
    return payload
