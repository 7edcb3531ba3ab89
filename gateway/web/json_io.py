"""Helpers shared by the API handlers."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from connectors import http_body
from gateway.web.errors import ApiError

MAX_JSON_BYTES = 64 * 1024


async def read_json(request: web.Request, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """The JSON body (the channels' reader: whole body, UTF-8, bounded), refusals as ``ApiError``."""
    try:
        return await http_body.read_json(request, max_bytes=max_bytes)
    except http_body.BodyRefused as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None


def json_response(data: Any, status: int = 200) -> web.Response:
    # orjson writes UTF-8 as is (no \u escapes), like json.dumps(ensure_ascii=False), several times faster.
    return web.Response(body=orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS), status=status,
                        content_type="application/json", charset="utf-8")


async def read_json_object(request: web.Request, *, max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """A JSON object body; an empty body is an empty object."""
    if request.content_length in (None, 0) and request.content_type != "application/json":
        return {}
    payload = await read_json(request, max_bytes=max_bytes)
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_body", "请求体必须是 JSON 对象")
    return payload
