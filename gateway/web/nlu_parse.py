"""``POST /api/v1/nlu/parse``: the NLU contract, also used by operators' manual intake."""

from __future__ import annotations

from aiohttp import web

from gateway.infra.ratelimit import RateLimiter, client_address
from gateway.infra.resources import KEYS, NLU, REDIS, SETTINGS
from gateway.web.errors import ApiError
from gateway.web.json_io import json_response, read_json

routes = web.RouteTableDef()


@routes.post("/api/v1/nlu/parse")
async def parse(request: web.Request) -> web.Response:
    app = request.config_dict
    payload = await read_json(request)
    if not isinstance(payload, dict) or set(payload) - {"text"}:
        raise ApiError(400, "invalid_body", "请求体只能包含 text 字段")
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "empty_text", "text 不能为空")
    if len(text) > app[SETTINGS].max_text_chars:
        raise ApiError(413, "text_too_long", "text 过长")
    limiter = RateLimiter(app[REDIS], app[KEYS])
    if not await limiter.allow("nlu", client_address(request), 600):
        raise ApiError(429, "rate_limited", "请求过于频繁，请稍后再试")
    result = await app[NLU].parse(text)
    return json_response(result.to_dict())
