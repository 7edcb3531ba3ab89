"""Citizen progress query: ticket number + last four digits of the phone."""

from __future__ import annotations

import re

from aiohttp import web

from gateway import keys as K
from gateway.api.common import json_response
from gateway.api.errors import ApiError
from gateway.ratelimit import RateLimiter, client_address
from ticketing import services

routes = web.RouteTableDef()

NOT_FOUND = "未找到该工单，请核对工单号和手机号后四位"


@routes.get("/api/v1/tickets/{ticket_no}")
async def ticket_progress(request: web.Request) -> web.Response:
    app = request.app
    limiter = RateLimiter(app[K.REDIS], app[K.KEYS])
    # Counted before validation so guessing costs the same whatever is guessed.
    if not await limiter.allow("progress", client_address(request), 10):
        raise ApiError(429, "rate_limited", "查询过于频繁，请一分钟后再试")
    number = request.match_info["ticket_no"].strip().upper()
    last4 = request.query.get("phone_last4", "")
    if not re.fullmatch(r"\d{4}", last4):
        raise ApiError(400, "invalid_phone_last4", "请填写手机号后四位数字")
    if not re.fullmatch(r"[A-Z0-9]{6,32}", number):
        raise ApiError(404, "not_found", NOT_FOUND)
    async with app[K.SESSIONS]() as session:
        progress = await services.public_progress(session, number, last4)
    if progress is None:
        # Same answer for an unknown number and a wrong phone: no enumeration.
        raise ApiError(404, "not_found", NOT_FOUND)
    return json_response(progress)
