"""Citizen progress query: ticket number + last four digits of the phone."""

from __future__ import annotations

import re

from aiohttp import web
from pydantic import BaseModel

from gateway.infra.ratelimit import RateLimiter, client_address
from gateway.infra.resources import KEYS, REDIS, SESSIONS
from gateway.web.errors import ApiError
from gateway.web.json_io import json_response
from gateway.web.openapi import documented
from ticketing.tickets import progress as tickets_progress

routes = web.RouteTableDef()

NOT_FOUND = "未找到该工单，请核对工单号和手机号后四位"


class ProgressEvent(BaseModel):
    at: str
    status: str | None
    label: str
    action: str


class PublicReply(BaseModel):
    at: str
    author: str
    text: str


class Progress(BaseModel):
    """What a citizen may see of a ticket (``ticketing.tickets.progress.public_progress``)."""

    ticket_no: str
    status: str
    status_label: str
    created_at: str
    deadline: str | None
    timeline: list[ProgressEvent]
    replies: list[PublicReply]


@routes.get("/api/v1/tickets/{ticket_no}")
@documented("办件进度查询", tag="群众", description="需提供手机号后四位；工单号不存在与号码不符返回同样的 404（防止枚举）。",
            query={"phone_last4": "手机号后四位（必填）"},
            responses={200: ("进度", Progress), 400: "参数错误", 404: "未找到", 429: "查询过于频繁"})
async def ticket_progress(request: web.Request) -> web.Response:
    app = request.config_dict
    limiter = RateLimiter(app[REDIS], app[KEYS])
    # Counted before validation so guessing costs the same whatever is guessed.
    if not await limiter.allow("progress", client_address(request), 10):
        raise ApiError(429, "rate_limited", "查询过于频繁，请一分钟后再试")
    number = request.match_info["ticket_no"].strip().upper()
    last4 = request.query.get("phone_last4", "")
    if not re.fullmatch(r"\d{4}", last4):
        raise ApiError(400, "invalid_phone_last4", "请填写手机号后四位数字")
    if not re.fullmatch(r"[A-Z0-9]{6,32}", number):
        raise ApiError(404, "not_found", NOT_FOUND)
    async with app[SESSIONS]() as session:
        progress = await tickets_progress.public_progress(session, number, last4)
    if progress is None:
        # Same answer for an unknown number and a wrong phone: no enumeration.
        raise ApiError(404, "not_found", NOT_FOUND)
    return json_response(progress)
