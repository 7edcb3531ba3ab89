"""The console's JSON API under ``/api/v1/console/``: signing in, the queue and every ticket action,
same session and roles as the pages, CSRF in the ``X-CSRF-Token`` header on every unsafe request.
The supervisors' and admins' part is :mod:`gateway.web.console.team_api`.

    GET  /api/v1/console/csrf                 → {"csrf_token"} (and the cookie it pairs with)
    POST /api/v1/console/login                {username, password}
    GET  /api/v1/console/tickets?q=…&status=… the queue / search
    POST /api/v1/console/tickets/{no}/claim   … and the other actions below
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gateway.infra.resources import DIRECTORY, SESSIONS
from gateway.web.auth import ANY_ROLE, OPERATORS, SUPERVISORS, actor_of, current_user, end_session, public, require_role
from gateway.web.auth import user_of as user_of_request
from gateway.web.console import actions, bulk, models
from gateway.web.console.forms import intake_from_json, intake_from_multipart, local_date, queue_filter
from gateway.web.console.team import login_user, set_shift, user_dict
from gateway.web.errors import ApiError
from gateway.web.json_io import json_response
from gateway.web.openapi import tagged
from gateway.web.present import Labels, summary
from gateway.web.security import check_csrf, csrf_token
from gateway.web.validation import path_id, read_model
from ticketing.accounts.users import AccountError
from ticketing.db.models.base import utcnow
from ticketing.errors import ConsoleError
from ticketing.supervision import shifts
from ticketing.tickets import queue
from ticketing.workflow import assignments

routes = web.RouteTableDef()
P = "/api/v1/console"
# The dispatch-and-supervision seats (交办督办坐席) read the queue and tickets, dispatch, review
# answers and close returned tickets; only operators take in (claim, reply, classify) hand-offs.
READERS = ("operator", "dispatcher", "supervisor")
DISPATCHERS = ("operator", "dispatcher", "supervisor")
DECIDERS = ("dispatcher", "supervisor")
TICKET = P + "/tickets/{number}"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

signing_in = tagged("坐席台：登录")
in_queue = tagged("坐席台：队列")
on_ticket = tagged("坐席台：工单")
TICKET_VIEW = ("工单详情（联系方式已脱敏）", models.TicketResponse)


def console_errors(handler: Handler) -> Handler:
    """ConsoleError / AccountError → the API's JSON error."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ConsoleError as exc:
            raise ApiError(exc.status, exc.code, exc.message) from None
        except AccountError as exc:
            raise ApiError(400, "invalid_account", str(exc)) from None

    return wrapper


def api(*roles: str) -> Callable[[Handler], Handler]:
    """Role check (+CSRF) then error translation, for one API handler."""

    def decorate(handler: Handler) -> Handler:
        return require_role(*roles, api=True)(console_errors(handler))

    return decorate


def _number(request: web.Request) -> str:
    return request.match_info["number"]


# --------------------------------------------------------------------------- session

@routes.get(f"{P}/csrf")
@signing_in("取得 CSRF 令牌", description="返回令牌并设置配对的 Cookie；之后每个非 GET 请求都要在 X-CSRF-Token 头中带上它。",
            responses={200: ("令牌", models.CsrfToken)})
@public
async def get_csrf(request: web.Request) -> web.Response:
    return json_response({"csrf_token": csrf_token(request), "header": "X-CSRF-Token"})


@routes.post(f"{P}/login")
@signing_in("登录", description="连续 5 次密码错误锁定 15 分钟（423）。", body=models.Login,
            responses={200: ("已登录（设置会话 Cookie）", models.UserResponse), 401: "用户名或密码错误",
                       403: "账号停用或 CSRF 校验失败", 423: "账号已锁定", 429: "尝试过于频繁"})
@public
async def login(request: web.Request) -> web.Response:
    await check_csrf(request)
    body = await read_model(request, models.Login)
    return json_response({"user": user_dict(await login_user(request, body.username, body.password))})


@routes.post(f"{P}/logout")
@signing_in("退出登录", responses={200: "已退出"})
@api(*ANY_ROLE, "dispatcher", "callback", "leader")
async def logout(request: web.Request) -> web.Response:
    await end_session(request)
    return json_response({"ok": True})


@routes.get(f"{P}/me")
@signing_in("当前用户与网络热线班次", responses={200: ("当前用户", models.MeResponse)})
@api(*ANY_ROLE, "dispatcher", "callback", "leader")
async def me(request: web.Request) -> web.Response:
    user = await current_user(request)
    shift = shifts.shift_status(request.config_dict[DIRECTORY])
    return json_response({"user": user_dict(user), "shift": {
        "on_duty": shift.on_duty, "start": shift.start, "end": shift.end,
        "next_start": shift.next_start.isoformat() if shift.next_start else None}})


@routes.post(f"{P}/me/shift")
@signing_in("切换自己的上班状态（影响轮流自动分配）", body=models.ShiftChange,
            responses={200: ("已更新", models.UserResponse)})
@api(*OPERATORS)
async def my_shift(request: web.Request) -> web.Response:
    body = await read_model(request, models.ShiftChange)
    user = await set_shift(request.config_dict, user_of_request(request).username, body.on_shift)
    return json_response({"user": user_dict(user)})


@routes.get(f"{P}/directory")
@signing_in("代码表：部门、区域、诉求类型、渠道、转办对象", responses={200: "代码表"})
@api(*ANY_ROLE, "dispatcher", "callback", "leader")
async def directory(request: web.Request) -> web.Response:
    d = request.config_dict[DIRECTORY]
    return json_response({
        "departments": [{"code": x.code, "name": x.name} for x in d.departments],
        "regions": [{"code": x.code, "name": x.name, "role": x.role} for x in d.regions],
        "request_types": [{"code": x.code, "name": x.name} for x in d.request_types],
        "channels": [{"code": x.code, "name": x.name} for x in d.channels],
        "dispatch_targets": [{"kind": t.kind, "code": t.code, "name": t.name}
                             for t in assignments.dispatch_targets(d)],
    })


# --------------------------------------------------------------------------- queue

@routes.get(f"{P}/tickets")
@in_queue("工单队列与搜索",
          description="默认列出待审核工单：紧急的在前（新的在前），其余按等待时间（久的在前）。q 搜索工单号、电话或内容，"
                      "搜索时默认覆盖所有状态，按时间倒序。",
          query={"q": "工单号 / 电话 / 内容关键词", "status": "pending_review（默认）、open、all 或某个状态",
                 "channel": "渠道代码", "department": "部门代码", "region": "区域代码",
                 "request_type": "诉求类型代码", "assignee": "处理人用户名，none 表示未认领",
                 "urgent": "true / false", "limit": "每页条数（≤200）", "offset": "偏移"},
          responses={200: ("工单列表", models.QueuePage), 400: "筛选条件无效"})
@api(*READERS)
async def list_tickets(request: web.Request) -> web.Response:
    config = request.config_dict
    flt, limit, offset = queue_filter(request.query, config[DIRECTORY])
    async with config[SESSIONS]() as session:
        page = await queue.search(session, flt, actor_of(request), limit=limit, offset=offset)
        started = await actions.dispatched_at(session, [t.id for t in page.tickets])
        await session.commit()  # a search by phone number is audited
    labels = Labels(config[DIRECTORY])
    now = utcnow()
    return json_response({"tickets": [{**summary(t, labels, now=now, started_at=started.get(t.id)),
                                       "unread": t.id in page.unread} for t in page.tickets], "total": page.total,
                          "limit": page.limit, "offset": page.offset, "search": page.searching})


@routes.get(f"{P}/queue/counts")
@in_queue("待审核、紧急、未认领数量", responses={200: ("数量", models.QueueCounts)})
@api(*READERS)
async def counts(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session:
        return json_response(await queue.queue_counts(session))


@routes.post(f"{P}/tickets")
@on_ticket("人工录入工单（电话 / 来信）",
           description="JSON，或 multipart/form-data（同名字段，扫描件放在 attachments 字段，可多个）。录入人自动成为处理人。",
           body=models.ManualIntakeRequest, responses={201: ("已创建", models.CreatedTicket)})
@api(*OPERATORS)
async def create_ticket(request: web.Request) -> web.Response:
    if request.content_type.startswith("multipart/"):
        data = await intake_from_multipart(request)
    else:
        data = intake_from_json(await read_model(request, models.ManualIntakeRequest))
    ticket = await actions.intake(request.config_dict, actor_of(request), data)
    return json_response({"ticket": summary(ticket, Labels(request.config_dict[DIRECTORY]))}, status=201)


@routes.post(f"{P}/tickets/bulk")
@in_queue("批量认领 / 分派 / 合并",
          description="每件工单单独执行（各自一个事务，先锁定该工单），与单件操作的检查相同；允许部分成功，"
                      "results 逐件说明成功或失败原因。assign 仅限班长；merge 的 into 须是所选工单之一，"
                      "其余工单作为重复件合并到它。",
          body=models.BulkAction,
          responses={200: ("逐件结果", models.BulkResponse), 400: "未选择工单或主工单无效", 403: "分派仅限班长",
                     413: "一次选择的工单过多"})
@api(*OPERATORS)
async def bulk_action(request: web.Request) -> web.Response:
    body = await read_model(request, models.BulkAction)
    results = await bulk.run(request.config_dict, actor_of(request), body.action, body.numbers,
                             username=body.username, into=body.into)
    done = sum(1 for r in results if r.ok)
    return json_response({"action": body.action, "results": [r.to_dict() for r in results],
                          "succeeded": done, "failed": len(results) - done})


@routes.get(TICKET)
@on_ticket("工单详情：对话、机器预分类与确认值、处理记录", description="读取即把该工单对当前用户标为已读。", responses={200: TICKET_VIEW, 404: "未找到"})
@api(*READERS)
async def get_ticket(request: web.Request) -> web.Response:
    return await _ticket_response(request, mark_read=True)


async def _ticket_response(request: web.Request, *, mark_read: bool = False, **extra: Any) -> web.Response:
    view = await actions.ticket_view(request.config_dict, actor_of(request), _number(request), mark_read=mark_read)
    return json_response({"ticket": view, **extra})


@routes.post(TICKET + "/claim")
@on_ticket("认领（我来处理）",
           description="原子操作（UPDATE … WHERE assignee IS NULL）：两名坐席同时认领只有一人成功，另一人得到 409。",
           responses={200: TICKET_VIEW, 409: "已被他人认领或已办结"})
@api(*OPERATORS)
async def claim(request: web.Request) -> web.Response:
    await actions.claim(request.config_dict, actor_of(request), _number(request))
    return await _ticket_response(request)


@routes.post(TICKET + "/release")
@on_ticket("释放回公共队列", responses={200: TICKET_VIEW})
@api(*OPERATORS)
async def release(request: web.Request) -> web.Response:
    await actions.release(request.config_dict, actor_of(request), _number(request))
    return await _ticket_response(request)


@routes.post(TICKET + "/assign")
@on_ticket("改派（班长）", body=models.Reassignment, responses={200: TICKET_VIEW})
@api(*SUPERVISORS)
async def assign(request: web.Request) -> web.Response:
    body = await read_model(request, models.Reassignment)
    await actions.assign(request.config_dict, actor_of(request), _number(request), body.username or None)
    return await _ticket_response(request)


@routes.post(TICKET + "/reveal")
@on_ticket("查看完整联系方式（记入审计日志）", description="仅限正在处理该工单的坐席和班长。",
           responses={200: ("联系方式", models.RevealedContact)})
@api(*OPERATORS)
async def reveal(request: web.Request) -> web.Response:
    return json_response({"contact": await actions.reveal(request.config_dict, actor_of(request), _number(request))})


@routes.post(TICKET + "/classification")
@on_ticket("确认 / 更正分类",
           description="不带字段或字段不变即为确认；更正记录修改人和前后值，并为管理员生成训练建议。尚未认领时自动认领。",
           body=models.Classification, responses={200: TICKET_VIEW, 409: "他人正在处理"})
@api(*OPERATORS)
async def classification(request: web.Request) -> web.Response:
    body = await read_model(request, models.Classification)
    await actions.classify(request.config_dict, actor_of(request), _number(request),
                           body.model_dump(exclude_unset=True))
    return await _ticket_response(request)


def _delivery(entry: Any) -> dict[str, Any]:
    return {"entry_id": entry.id, "status": entry.delivery_status, "detail": entry.delivery_detail}


@routes.post(TICKET + "/reply")
@on_ticket("答复群众（经群众使用的渠道发送）",
           description="先保存为“未发出”，再经渠道发送：网页会话实时推送；微信客服消息（超过 48 小时窗口返回 45015）；"
                       "邮件（未配置发信服务器时保留在待发件箱）；电话 / 来信需人工回复。",
           body=models.Reply, responses={200: ("工单与发送结果", models.ReplyResponse), 409: "他人正在处理"})
@api(*OPERATORS)
async def reply(request: web.Request) -> web.Response:
    body = await read_model(request, models.Reply)
    entry = await actions.reply(request.config_dict, actor_of(request), _number(request), body.text,
                                mark_answered=body.mark_answered)
    return await _ticket_response(request, delivery=_delivery(entry))


@routes.post(TICKET + "/entries/{entry_id:\\d+}/retry")
@on_ticket("重新发送未发出的答复", responses={200: ("发送结果", models.DeliveryResponse), 409: "已发送"})
@api(*OPERATORS)
async def retry(request: web.Request) -> web.Response:
    entry = await actions.retry_delivery(request.config_dict, actor_of(request), _number(request),
                                         path_id(request, "entry_id"))
    return json_response({"delivery": _delivery(entry)})


@routes.post(TICKET + "/notes")
@on_ticket("添加内部备注（群众不可见）", body=models.Note, responses={200: TICKET_VIEW})
@api(*OPERATORS)
async def add_note(request: web.Request) -> web.Response:
    body = await read_model(request, models.Note)
    entry = await actions.note(request.config_dict, actor_of(request), _number(request), body.text)
    return await _ticket_response(request, note_id=entry.id)


@routes.post(TICKET + "/merge")
@on_ticket("合并重复件", body=models.Merge, responses={200: TICKET_VIEW, 409: "状态不允许"})
@api(*OPERATORS)
async def merge(request: web.Request) -> web.Response:
    body = await read_model(request, models.Merge)
    await actions.merge(request.config_dict, actor_of(request), _number(request), body.into)
    return await _ticket_response(request)


LIFECYCLE = {"answer": "标记已答复（直接办结）", "close": "办结（已退回的工单须填写理由 note）",
             "reopen": "重新打开（回到待审核队列）"}
# 办结 of a ticket a unit returned is the dispatch desk's decision too.
LIFECYCLE_ROLES = {"answer": OPERATORS, "close": DISPATCHERS, "reopen": OPERATORS}


def _lifecycle(action: str) -> Handler:
    @on_ticket(LIFECYCLE[action], body=models.LifecycleNote, responses={200: TICKET_VIEW, 409: "状态不允许"})
    @api(*LIFECYCLE_ROLES[action])
    async def handler(request: web.Request) -> web.Response:
        body = await read_model(request, models.LifecycleNote)
        await actions.lifecycle(request.config_dict, actor_of(request), _number(request), action,
                                body.note or body.reason)
        return await _ticket_response(request)

    handler.__name__ = f"lifecycle_{action}"
    return handler


for _action in LIFECYCLE:
    routes.post(TICKET + "/" + _action)(_lifecycle(_action))


@routes.post(TICKET + "/dispatch")
@on_ticket("交办（或改派已退回的工单）到主办单位，可加协办单位",
           description="主办单位为承办部门或县（市、区）远端坐席；assists 为协办单位代码。办理时限按诉求类型以工作日计算"
                       "（含调休），全国平台下发的时限优先；也可用 deadline（YYYY-MM-DD）自定，须填 deadline_reason。"
                       "提交后以邮件和办理台实时消息通知各单位，邮件结果记入处理记录。",
           body=models.DispatchOrder, responses={200: TICKET_VIEW, 400: "单位、日期或理由无效", 409: "状态不允许"})
@api(*DISPATCHERS)
async def dispatch(request: web.Request) -> web.Response:
    body = await read_model(request, models.DispatchOrder)
    row = await actions.dispatch(request.config_dict, actor_of(request), _number(request),
                                 target_kind=body.target_kind, target=body.target, note_text=body.note,
                                 assists=body.assists,
                                 deadline=local_date(body.deadline, required=False, what="办理时限"),
                                 deadline_reason=body.deadline_reason)
    return await _ticket_response(request, dispatch={"target_kind": row.target_kind, "target": row.target,
                                                     "deadline": row.deadline.isoformat() if row.deadline else None})


@routes.post(TICKET + "/review")
@on_ticket("审核单位答复：通过（可修改措辞）或退回（须填理由）",
           description="通过：答复加上单位名称，连同一事一评链接经群众原渠道发出（全国平台工单同时回传）；"
                       "退回：工单回到单位办理中，单位收到邮件和办理台消息。两人同时审核只有一人成功，另一人得到 409。",
           body=models.ReviewDecision, responses={200: ("工单与审核结果", models.ReviewResponse),
                                                  400: "结论或理由无效", 409: "没有待审核的答复"})
@api(*DISPATCHERS)
async def review(request: web.Request) -> web.Response:
    body = await read_model(request, models.ReviewDecision)
    result = await actions.review(request.config_dict, actor_of(request), _number(request),
                                  decision=body.decision or "", text=body.text, reason=body.reason)
    outcome: dict[str, Any] = {"decision": result.decision, "report_id": result.report_id}
    if result.entry is not None:
        outcome["delivery"] = _delivery(result.entry)
    return await _ticket_response(request, review=outcome)


@routes.post(TICKET + "/extension")
@on_ticket("审批单位的延期申请（不同意须填理由）", body=models.ExtensionDecision,
           responses={200: TICKET_VIEW, 400: "未选择或缺少理由", 409: "没有待审批的延期申请"})
@api(*DECIDERS)
async def extension(request: web.Request) -> web.Response:
    body = await read_model(request, models.ExtensionDecision)
    if body.approve is None:
        raise ApiError(400, "invalid_decision", "请选择同意或不同意延期")
    await actions.decide_extension(request.config_dict, actor_of(request), _number(request), approve=body.approve,
                                   note=body.note)
    return await _ticket_response(request)


@routes.post(TICKET + "/deadline")
@on_ticket("修改办理时限（须填理由，记入处理记录）", body=models.DeadlineChange,
           responses={200: TICKET_VIEW, 400: "日期或理由无效", 409: "工单不在单位办理中"})
@api(*DECIDERS)
async def deadline(request: web.Request) -> web.Response:
    body = await read_model(request, models.DeadlineChange)
    day = local_date(body.date, what="办理时限")
    assert day is not None
    await actions.change_deadline(request.config_dict, actor_of(request), _number(request), day=day,
                                  reason=body.reason)
    return await _ticket_response(request)


@routes.post(TICKET + "/supervise")
@on_ticket("督办：向主办单位下发督办单（可设新的办结时限）",
           description="单位须签收督办单；同一轮交办第 2 次督办起同时发送给单位领导。", body=models.SupervisionOrder,
           responses={200: TICKET_VIEW, 400: "缺少督办意见或日期无效", 409: "工单不在单位办理中"})
@api(*DECIDERS)
async def supervise(request: web.Request) -> web.Response:
    body = await read_model(request, models.SupervisionOrder)
    await actions.supervise(request.config_dict, actor_of(request), _number(request), text=body.text,
                            day=local_date(body.date, required=False, what="督办时限"))
    return await _ticket_response(request)
