"""``POST /api/v1/nlu/parse``: the NLU contract, also used by operators' manual intake."""

from __future__ import annotations

from aiohttp import web

from gateway.infra.ratelimit import RateLimiter, client_address
from gateway.infra.resources import KEYS, NLU, REDIS, SETTINGS
from gateway.web.errors import ApiError
from gateway.web.json_io import json_response
from gateway.web.models import NluResult, nlu_parse_request
from gateway.web.openapi import documented
from gateway.web.validation import read_model

routes = web.RouteTableDef()


@routes.post("/api/v1/nlu/parse")
@documented("智能分类（NLU）：部门、区域、诉求类型、紧急、常见问题", tag="群众",
            description="坐席人工录入时也用它做预分类。",
            body=lambda config: nlu_parse_request(config[SETTINGS].max_text_chars),
            responses={200: ("分类结果", NluResult), 413: "text 过长", 429: "请求过于频繁"})
async def parse(request: web.Request) -> web.Response:
    config = request.config_dict
    body = await read_model(request, nlu_parse_request(config[SETTINGS].max_text_chars))
    if not await RateLimiter(config[REDIS], config[KEYS]).allow("nlu", client_address(request), 600):
        raise ApiError(429, "rate_limited", "请求过于频繁，请稍后再试")
    result = await config[NLU].parse(body.text)
    return json_response(result.to_dict())
