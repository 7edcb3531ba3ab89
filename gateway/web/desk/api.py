"""The desk's JSON API under ``/api/v1/desk/``: a unit's queue and the unit's moves on one ticket.
The console's session and CSRF (``X-CSRF-Token``; sign in with ``POST /api/v1/console/login``);
only handlers, and each handler only on its own unit's tickets.

    GET  /api/v1/desk/queue?tab=…&offset=…&limit=…
    GET  /api/v1/desk/tickets/{no}
    POST /api/v1/desk/tickets/{no}/sign | return | progress | answer | extension | reveal
    POST /api/v1/desk/tickets/{no}/supervision/{id}/acknowledge
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.web.auth import actor_of, require_role
from gateway.web.desk import actions, models
from gateway.web.desk.forms import parse_date, read_upload
from gateway.web.errors import ApiError
from gateway.web.json_io import json_response
from gateway.web.openapi import tagged
from gateway.web.validation import path_id, query_int, read_model
from ticketing.accounts.roles import UNIT_ROLES
from ticketing.errors import ConsoleError
from ticketing.workflow.desk_queue import MAX_LIMIT, TABS

routes = web.RouteTableDef()
P = "/api/v1/desk"
TICKET = P + "/tickets/{number}"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PAGE_SIZE = 50

in_queue = tagged("办理台：队列")
on_ticket = tagged("办理台：工单")
TICKET_VIEW = ("工单（本单位视角，联系方式已脱敏）", models.DeskTicketResponse)
REFUSED = {400: "参数错误", 404: "未找到（或不是本单位的工单）", 409: "当前环节不允许"}


def api(handler: Handler) -> Handler:
    """Handlers only (+CSRF), domain refusals as the API's JSON error."""

    @functools.wraps(handler)
    async def translated(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ConsoleError as exc:
            raise ApiError(exc.status, exc.code, exc.message) from None

    return require_role(*sorted(UNIT_ROLES), api=True)(translated)


def _number(request: web.Request) -> str:
    return request.match_info["number"]


def queue_query(query: Any) -> tuple[str, int, int]:
    tab = (query.get("tab") or "pending_sign").strip()
    if tab not in TABS:
        raise ApiError(400, "invalid_tab", f"tab 取值无效：{tab}")
    offset = query_int(query, "offset", 0, lowest=0, highest=10**9)
    limit = query_int(query, "limit", PAGE_SIZE, lowest=1, highest=MAX_LIMIT)
    return tab, offset, limit


@routes.get(f"{P}/queue")
@in_queue("本单位工单队列与各页签数量",
          description="页签：pending_sign 待签收、handling 办理中、warning 即将超期、overdue 已超期、returned 已退回（90 天内）、"
                      "done 已办结（90 天内）。未结束的按办理时限排序（近的在前），已退回 / 已办结按结束时间倒序。",
          query={"tab": "页签代码（默认 pending_sign）", "offset": "偏移", "limit": f"每页条数（≤{MAX_LIMIT}）"},
          responses={200: ("队列", models.DeskQueueResponse), 400: "参数错误"})
@api
async def get_queue(request: web.Request) -> web.Response:
    tab, offset, limit = queue_query(request.query)
    return json_response(await actions.queue(request.config_dict, actor_of(request), tab=tab, offset=offset,
                                             limit=limit))


async def _ticket_response(request: web.Request, **extra: Any) -> web.Response:
    view = await actions.ticket(request.config_dict, actor_of(request), _number(request))
    return json_response({"ticket": view, **extra})


@routes.get(TICKET)
@on_ticket("工单详情：群众诉求、分类、附件、交办说明、时限、本单位办理记录、督办单、答复与审核意见",
           description="其他单位的工单与不存在的工单一样返回 404；本单位曾办理、现已不在本单位的工单只读（read_only）。",
           responses={200: TICKET_VIEW, 404: REFUSED[404]})
@api
async def get_ticket(request: web.Request) -> web.Response:
    return await _ticket_response(request)


@routes.post(TICKET + "/sign")
@on_ticket("签收", description="主办单位签收后工单进入“办理中”；超过签收时限签收记为超时签收。",
           responses={200: TICKET_VIEW, 404: REFUSED[404], 409: "已签收或不在本单位"})
@api
async def sign(request: web.Request) -> web.Response:
    await actions.sign(request.config_dict, actor_of(request), _number(request))
    return await _ticket_response(request)


@routes.post(TICKET + "/return")
@on_ticket("退回（非本单位职责等）", description="主办单位退回后工单回到平台改派或办结；协办单位退回只结束本单位的协办。",
           body=models.DeskReturn, responses={200: TICKET_VIEW, **REFUSED})
@api
async def return_ticket(request: web.Request) -> web.Response:
    body = await read_model(request, models.DeskReturn)
    await actions.return_ticket(request.config_dict, actor_of(request), _number(request), reason=body.reason,
                                text=body.text)
    return await _ticket_response(request)


async def _report_body(request: web.Request) -> tuple[object, Any]:
    if request.content_type.startswith("multipart/"):
        upload = await read_upload(request)
        return upload.fields.get("text", ""), upload
    return (await read_model(request, models.DeskReportText)).text, None


def _report_handler(what: str) -> Handler:
    write = {"progress": actions.progress, "answer": actions.answer}[what]

    async def handler(request: web.Request) -> web.Response:
        text, upload = await _report_body(request)
        report = await write(request.config_dict, actor_of(request), _number(request), text, upload)
        return await _ticket_response(request, report_id=report.id)

    handler.__name__ = f"report_{what}"
    return handler


routes.post(TICKET + "/progress")(on_ticket(
    "办理进展（协办单位为协办意见）",
    description="JSON {text}，或 multipart/form-data：text 字段 + files 附件（可多个，单个不超过 10 MB，最多 10 个）。",
    body=models.DeskReportText,
    responses={200: ("工单与新记录编号", models.DeskReportCreated), 413: "附件过大", **REFUSED})(api(_report_handler("progress"))))
routes.post(TICKET + "/answer")(on_ticket(
    "提交答复（平台审核后答复群众）",
    description="仅主办单位；至少 10 个字。JSON {text}，或 multipart/form-data：text + files。工单进入“答复待审核”。",
    body=models.DeskReportText,
    responses={200: ("工单与答复编号", models.DeskReportCreated), 413: "附件过大", **REFUSED})(api(_report_handler("answer"))))


@routes.post(TICKET + "/extension")
@on_ticket("申请延期", description="仅主办单位，签收前后均可、提交答复前；由交办督办坐席或班长审批。",
           body=models.DeskExtensionRequest, responses={200: TICKET_VIEW, **REFUSED})
@api
async def extension(request: web.Request) -> web.Response:
    body = await read_model(request, models.DeskExtensionRequest)
    await actions.extension(request.config_dict, actor_of(request), _number(request), until=parse_date(body.until),
                            reason=body.reason)
    return await _ticket_response(request)


@routes.post(TICKET + "/supervision/{note_id:\\d+}/acknowledge")
@on_ticket("签收督办单", responses={200: TICKET_VIEW, 404: "没有这份督办单", 409: "已签收"})
@api
async def acknowledge(request: web.Request) -> web.Response:
    await actions.acknowledge(request.config_dict, actor_of(request), _number(request), path_id(request, "note_id"))
    return await _ticket_response(request)


@routes.post(TICKET + "/reveal")
@on_ticket("查看群众完整电话（记入审计日志）", description="仅限正在办理该工单的单位，用于联系群众。",
           responses={200: ("姓名与电话", models.DeskRevealedPhone), 403: "工单已不在本单位", 404: REFUSED[404]})
@api
async def reveal(request: web.Request) -> web.Response:
    return json_response({"contact": await actions.reveal(request.config_dict, actor_of(request), _number(request))})
