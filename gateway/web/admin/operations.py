"""Admin API of the intake pipeline: the dead-letter stream and its replay."""

from __future__ import annotations

import functools
import hmac

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.infra.resources import SETTINGS
from gateway.infra.stream import STREAM
from gateway.web.auth import require_role
from gateway.web.errors import ApiError
from gateway.web.json_io import json_response
from gateway.web.openapi import tagged
from gateway.web.validation import query_int

routes = web.RouteTableDef()
MAX_DEAD_LETTERS = 1000
operations = tagged("管理（令牌或管理员登录）")


def _check_token(request: web.Request) -> None:
    token = request.config_dict[SETTINGS].admin_token
    if not token:
        raise ApiError(403, "admin_disabled", "未配置管理员令牌（HOTLINE_ADMIN_TOKEN），管理接口已关闭")
    given = request.headers.get("Authorization", "")
    if not given.startswith("Bearer ") or not hmac.compare_digest(given[7:].encode(), token.encode()):
        raise ApiError(401, "unauthorized", "管理员令牌无效")


def admin_only(handler: Handler) -> Handler:
    """Scripts authenticate with the admin token (Authorization: Bearer …); people with an admin
    account's console session (and its CSRF header), like every other console API."""
    by_session = require_role("admin", api=True)(handler)

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        if "Authorization" in request.headers:
            _check_token(request)
            return await handler(request)
        return await by_session(request)

    wrapper.console_roles = by_session.console_roles  # type: ignore[attr-defined]
    wrapper.admin_token = True  # type: ignore[attr-defined]  # the API document's security scheme
    return wrapper


@routes.get("/api/v1/admin/dead-letters")
@operations("死信列表（处理失败的消息）", query={"limit": "最多条数"})
@admin_only
async def list_dead_letters(request: web.Request) -> web.Response:
    letters = await request.config_dict[STREAM].dead_letters(count=query_int(request.query, "limit", 100, lowest=1, highest=MAX_DEAD_LETTERS))
    return json_response({"dead_letters": [
        {"id": d.entry_id, "original_id": d.original_id, "error": d.error, "deliveries": d.deliveries,
         "failed_at": d.failed_at, "message": d.payload}
        for d in letters
    ]})


@routes.post("/api/v1/admin/dead-letters/{entry_id}/replay")
@operations("重放一条死信", responses={202: "已重新入队", 404: "没有这条死信"})
@admin_only
async def replay_dead_letter(request: web.Request) -> web.Response:
    new_id = await request.config_dict[STREAM].replay(request.match_info["entry_id"])
    if new_id is None:
        raise ApiError(404, "not_found", "没有这条死信")
    return json_response({"replayed_as": new_id}, status=202)


@routes.get("/api/v1/admin/intake")
@operations("受理队列积压情况")
@admin_only
async def intake_status(request: web.Request) -> web.Response:
    return json_response(await request.config_dict[STREAM].backlog())


def _feed_poller(request: web.Request):
    from gateway.channels.wiring import FEED_POLLER

    poller = request.config_dict.get(FEED_POLLER)
    if poller is None:
        raise ApiError(404, "feed_disabled", "未配置全国一体化在线政务服务平台接口（NATIONAL_FEED_URL）")
    return poller


@routes.get("/api/v1/admin/national-feed")
@operations("全国平台对接状态", responses={200: "状态", 404: "未配置"})
@admin_only
async def national_feed_status(request: web.Request) -> web.Response:
    poller = _feed_poller(request)
    return json_response({
        "status": await poller.status(),
        "failed_write_backs": await poller.failed_write_backs(),
        "skipped_items": await poller.skipped_items(),
    })


@routes.post("/api/v1/admin/national-feed/retry")
@operations("重试失败的回传", responses={200: "结果", 404: "未配置"})
@admin_only
async def national_feed_retry(request: web.Request) -> web.Response:
    return json_response(await _feed_poller(request).retry_failed())
