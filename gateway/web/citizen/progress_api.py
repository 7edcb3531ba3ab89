"""Citizen progress query: ticket number + last four digits of the phone (or, for a ticket that
has been guessed at, the whole phone number).

Four digits are 10,000 possibilities, so the lookup is guarded three ways (``ProgressGuard``):

* per client address (``HOTLINE_TRUSTED_PROXIES`` decides whose ``X-Forwarded-For`` counts):
  10 lookups a minute;
* per ticket number, whoever asks: 20 lookups in 10 minutes, so spreading the guesses over many
  addresses (a botnet, a proxy that forwards forged headers) does not make them faster;
* per ticket number, failures: after 5 wrong answers the last four digits are no longer enough
  for 30 days (each further failure restarts the 30 days); only the whole phone number opens it.

Why "require the full phone" rather than "lock the number": a lock would let anyone shut a
citizen out of their own ticket with five bad guesses, while the citizen always knows their whole
number; and the 5 guesses an attacker gets per 30 days find four digits with a chance of 1 in
2,000.  Failures are counted for any well-formed number, existing or not, and the "whole number
needed" answer is the same for both, so it tells nothing about which tickets exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

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
FULL_PHONE_REQUIRED = "该工单号查询失败次数过多，请填写留言时所留的完整手机号码查询"
TOO_MANY_QUERIES = "查询过于频繁，请一分钟后再试"
TOO_MANY_FOR_TICKET = "该工单号查询过于频繁，请十分钟后再试"
TICKET_NO_RE = re.compile(r"[A-Z0-9]{6,32}")
LAST4_RE = re.compile(r"\d{4}")
FULL_PHONE_RE = re.compile(r"\+?[\d\- ]{7,20}")


@dataclass(frozen=True)
class ProgressGuard:
    """The limits of the progress lookup (see the module docstring for why these)."""

    per_client: int = 10  # per client address and minute; the page and the API share it
    per_ticket: int = 20  # per ticket number, whoever asks, per ``ticket_window``
    ticket_window: int = 600
    failures_before_full_phone: int = 5
    failure_memory: int = 30 * 24 * 3600  # seconds a ticket number's failures are remembered


GUARD = ProgressGuard()

LookupStatus = Literal["found", "not_found", "ticket_limited", "full_phone_required"]


@dataclass(frozen=True)
class Lookup:
    status: LookupStatus
    progress: dict[str, Any] | None = None


async def count_client(request: web.Request, guard: ProgressGuard = GUARD) -> bool:
    """One more lookup by this client; False when over its budget.  Counted before anything is
    validated, so guessing costs the same whatever is guessed."""
    app = request.config_dict
    limiter = RateLimiter(app[REDIS], app[KEYS])
    return await limiter.allow("progress", client_address(request), guard.per_client)


async def look_up(request: web.Request, number: str, proof: str, guard: ProgressGuard = GUARD) -> Lookup:
    """A number and a phone proof (4 digits, or the whole number) → what to answer.  The client's
    own budget is counted before (``count_client``)."""
    app = request.config_dict
    redis, keys = app[REDIS], app[KEYS]
    if not TICKET_NO_RE.fullmatch(number):
        return Lookup("not_found")
    limiter = RateLimiter(redis, keys)
    if not await limiter.allow("progress-ticket", number, guard.per_ticket, guard.ticket_window):
        return Lookup("ticket_limited")
    failures_key = keys.key("progress", "failures", number)
    failures = int(await redis.get(failures_key) or 0)
    if LAST4_RE.fullmatch(proof) and failures >= guard.failures_before_full_phone:
        return Lookup("full_phone_required")
    async with app[SESSIONS]() as session:
        progress = await tickets_progress.public_progress(session, number, proof)
    if progress is None:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(failures_key)
            pipe.expire(failures_key, guard.failure_memory)
            await pipe.execute()
        return Lookup("not_found")
    return Lookup("found", progress)


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
    merged_into: str | None = None  # a merged duplicate: status, steps and answers are the main ticket's
    created_at: str
    deadline: str | None
    timeline: list[ProgressEvent]
    replies: list[PublicReply]


@routes.get("/api/v1/tickets/{ticket_no}")
@documented("办件进度查询", tag="群众",
            description="需提供手机号后四位；工单号不存在与号码不符返回同样的 404（防止枚举）。"
                        "同一工单号查询失败 5 次后，后四位不再有效，须提供完整手机号（phone）。",
            query={"phone_last4": "手机号后四位", "phone": "完整手机号（后四位查询失败过多时必填）"},
            responses={200: ("进度", Progress), 400: "参数错误", 403: "须提供完整手机号", 404: "未找到",
                       429: "查询过于频繁"})
async def ticket_progress(request: web.Request) -> web.Response:
    if not await count_client(request):
        raise ApiError(429, "rate_limited", TOO_MANY_QUERIES)
    number = request.match_info["ticket_no"].strip().upper()
    phone = request.query.get("phone", "").strip()
    last4 = request.query.get("phone_last4", "")
    if phone:
        if not FULL_PHONE_RE.fullmatch(phone):
            raise ApiError(400, "invalid_phone", "请填写完整的手机号码")
        proof = phone
    elif LAST4_RE.fullmatch(last4):
        proof = last4
    else:
        raise ApiError(400, "invalid_phone_last4", "请填写手机号后四位数字")
    found = await look_up(request, number, proof)
    if found.status == "ticket_limited":
        raise ApiError(429, "rate_limited", TOO_MANY_FOR_TICKET)
    if found.status == "full_phone_required":
        raise ApiError(403, "full_phone_required", FULL_PHONE_REQUIRED)
    if found.progress is None:
        # Same answer for an unknown number and a wrong phone: no enumeration.
        raise ApiError(404, "not_found", NOT_FOUND)
    return json_response(found.progress)
