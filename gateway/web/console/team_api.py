"""The console API of canned replies, the supervisors (figures, shifts, round-robin, audit log)
and the admins (accounts), under ``/api/v1/console/``."""

from __future__ import annotations

from aiohttp import web

from gateway.infra.resources import SESSIONS
from gateway.web.auth import ADMINS, OPERATORS, SUPERVISORS, actor_of, user_of
from gateway.web.console import models
from gateway.web.console.api import P, api
from gateway.web.console.events import auto_assign_enabled
from gateway.web.console.forms import audit_filter, stats_days
from gateway.web.console.team import (
    canned_list,
    faq_answers,
    set_shift,
    supervisor_figures,
    switch_auto_assign,
    user_dict,
)
from gateway.web.errors import ApiError
from gateway.web.json_io import json_response
from gateway.web.openapi import tagged
from gateway.web.validation import path_id, read_model
from ticketing.accounts import audit, canned_replies
from ticketing.accounts import users as accounts_users
from ticketing.accounts.roles import CONSOLE_ROLES

routes = web.RouteTableDef()

for_replies = tagged("坐席台：常用语")
for_supervisors = tagged("坐席台：班长")
for_admins = tagged("坐席台：管理员")


# --------------------------------------------------------------------------- canned replies

@routes.get(f"{P}/canned-replies")
@for_replies("常用语（我的、公共、FAQ 答案）", responses={200: ("列表", models.CannedReplies)})
@api(*OPERATORS)
async def list_canned(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session:
        rows = await canned_replies.canned_replies(session, actor_of(request))
    return json_response({"canned_replies": canned_list(rows, faq_answers(request.config_dict))})


@routes.post(f"{P}/canned-replies")
@for_replies("新增常用语（公共常用语仅班长）", body=models.CannedReplyRequest,
             responses={201: ("已保存", models.CannedReply)})
@api(*OPERATORS)
async def add_canned(request: web.Request) -> web.Response:
    body = await read_model(request, models.CannedReplyRequest)
    async with request.config_dict[SESSIONS]() as session, session.begin():
        row = await canned_replies.add_canned_reply(session, actor_of(request), body.title, body.text,
                                                    shared=body.shared)
    return json_response({"id": row.id, "title": row.title, "text": row.text,
                          "kind": "shared" if row.owner is None else "own"}, status=201)


@routes.delete(P + "/canned-replies/{reply_id:\\d+}")
@for_replies("删除常用语", responses={200: "已删除", 404: "没有这条"})
@api(*OPERATORS)
async def delete_canned(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session, session.begin():
        await canned_replies.delete_canned_reply(session, actor_of(request), path_id(request, "reply_id"))
    return json_response({"ok": True})


# --------------------------------------------------------------------------- supervisors

@routes.get(f"{P}/stats")
@for_supervisors("坐席统计：处理量、首次答复用时中位数、被他人更正、被重新打开",
                 query={"days": "统计最近多少天（1–366，默认 30）"},
                 responses={200: ("统计", models.StatsResponse), 400: "days 无效"})
@api(*SUPERVISORS)
async def stats(request: web.Request) -> web.Response:
    figures = await supervisor_figures(request.config_dict, stats_days(request.query))
    return json_response({"days": figures.days, "since": figures.since.isoformat(),
                          "operators": [r.to_dict() for r in figures.operators], "queue": figures.queue})


@routes.get(f"{P}/operators")
@for_supervisors("坐席列表", responses={200: ("列表", models.OperatorsResponse)})
@api(*SUPERVISORS)
async def operators(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session:
        users = await accounts_users.list_users(session, roles=tuple(CONSOLE_ROLES))
    return json_response({"operators": [user_dict(u) for u in users]})


@routes.post(P + "/operators/{username}/shift")
@for_supervisors("设置坐席上班状态", body=models.ShiftChange, responses={200: ("已更新", models.UserResponse)})
@api(*SUPERVISORS)
async def operator_shift(request: web.Request) -> web.Response:
    body = await read_model(request, models.ShiftChange)
    user = await set_shift(request.config_dict, request.match_info["username"], body.on_shift)
    return json_response({"user": user_dict(user)})


@routes.get(f"{P}/auto-assign")
@for_supervisors("轮流自动分配是否开启", responses={200: ("状态", models.AutoAssignState)})
@api(*SUPERVISORS)
async def get_auto_assign(request: web.Request) -> web.Response:
    return json_response({"enabled": await auto_assign_enabled(request.config_dict)})


@routes.post(f"{P}/auto-assign")
@for_supervisors("开启 / 关闭轮流自动分配", body=models.AutoAssignSwitch,
                 responses={200: ("状态", models.AutoAssignState)})
@api(*SUPERVISORS)
async def post_auto_assign(request: web.Request) -> web.Response:
    body = await read_model(request, models.AutoAssignSwitch)
    assigned = await switch_auto_assign(request.config_dict, body.enabled)
    return json_response({"enabled": body.enabled, "assigned_now": assigned})


@routes.get(f"{P}/audit")
@for_supervisors("审计日志（查看联系方式、越权处理、改派、账号变更）", query={"action": "操作类型", "actor": "操作人"},
                 responses={200: ("记录", models.AuditLog)})
@api(*SUPERVISORS)
async def audit_log(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session:
        rows = await audit.audit_entries(session, **audit_filter(request.query))
    return json_response({"audit": [{"at": r.at.isoformat(), "actor": r.actor, "action": r.action,
                                     "ticket_id": r.ticket_id, "target": r.target, "ip": r.ip, "detail": r.detail}
                                    for r in rows]})


# --------------------------------------------------------------------------- admins

@routes.get(f"{P}/users")
@for_admins("账号列表", responses={200: ("列表", models.UsersResponse)})
@api(*ADMINS)
async def list_users(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session:
        users = await accounts_users.list_users(session)
    return json_response({"users": [user_dict(u) for u in users]})


@routes.post(f"{P}/users")
@for_admins("创建账号", body=models.NewUser, responses={201: ("已创建", models.UserResponse)})
@api(*ADMINS)
async def add_user(request: web.Request) -> web.Response:
    body = await read_model(request, models.NewUser)
    async with request.config_dict[SESSIONS]() as session, session.begin():
        user = await accounts_users.create_user(session, body.username, role=body.role, password=body.password,
                                                display_name=body.display_name, actor=user_of(request).username)
    return json_response({"user": user_dict(user)}, status=201)


@routes.post(P + "/users/{username}")
@for_admins("修改账号（角色、停用、重置密码、解锁）", body=models.UserChange,
            responses={200: ("已更新", models.UserResponse), 404: "没有这个账号"})
@api(*ADMINS)
async def update_user(request: web.Request) -> web.Response:
    body = await read_model(request, models.UserChange)
    async with request.config_dict[SESSIONS]() as session, session.begin():
        user = await accounts_users.user_by_name(session, request.match_info["username"])
        if user is None:
            raise ApiError(404, "not_found", "没有这个账号")
        await accounts_users.update_user(session, user, actor=user_of(request).username,
                                         **body.model_dump(exclude_unset=True))
    return json_response({"user": user_dict(user)})
