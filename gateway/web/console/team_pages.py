"""Server-rendered console pages of canned replies, the supervisors (figures, shifts, round-robin,
audit log) and the admins (accounts); the same functions as :mod:`gateway.web.console.team_api`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.infra.resources import SESSIONS
from gateway.web.auth import (
    ADMINS,
    OPERATORS,
    SUPERVISORS,
    actor_of,
    flash,
    require_role,
    user_of,
)
from gateway.web.console.events import auto_assign_enabled
from gateway.web.console.forms import DEFAULT_DAYS, audit_filter, stats_days
from gateway.web.console.page_actions import page_action
from gateway.web.console.team import canned_list, faq_answers, set_shift, supervisor_figures, switch_auto_assign
from gateway.web.errors import ApiError
from gateway.web.present import waiting
from gateway.web.staff_pages import render
from gateway.web.validation import path_id
from ticketing.accounts import audit, canned_replies
from ticketing.accounts import users as accounts_users
from ticketing.accounts.audit import AUDIT_LABELS
from ticketing.accounts.roles import ROLE_LABELS
from ticketing.errors import ConsoleError

routes = web.RouteTableDef()


# --------------------------------------------------------------------------- canned replies

@routes.get("/console/canned")
@require_role(*OPERATORS)
async def canned_page(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session:
        rows = await canned_replies.canned_replies(session, actor_of(request))
    return await render(request, "console/canned.html", {"nav": "canned",
                                                          "canned": canned_list(rows, faq_answers(request.config_dict))})


@routes.post("/console/canned")
@require_role(*OPERATORS)
@page_action
async def canned_add(request: web.Request) -> web.Response:
    form = await request.post()
    async with request.config_dict[SESSIONS]() as session, session.begin():
        await canned_replies.add_canned_reply(session, actor_of(request), str(form.get("title", "")), str(form.get("text", "")),
                                  shared=form.get("shared") in ("1", "on"))
    await flash(request, "已保存常用语")
    raise web.HTTPSeeOther("/console/canned")


@routes.post("/console/canned/{reply_id:\\d+}/delete")
@require_role(*OPERATORS)
@page_action
async def canned_delete(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session, session.begin():
        await canned_replies.delete_canned_reply(session, actor_of(request), path_id(request, "reply_id"))
    await flash(request, "已删除常用语")
    raise web.HTTPSeeOther("/console/canned")


# --------------------------------------------------------------------------- supervisors

@routes.get("/console/supervisor")
@require_role(*SUPERVISORS)
async def supervisor_page(request: web.Request) -> web.Response:
    try:
        days = stats_days(request.query)
    except ApiError as exc:
        await flash(request, exc.message, "error")
        days = DEFAULT_DAYS
    figures = await supervisor_figures(request.config_dict, days)
    return await render(request, "console/supervisor.html", {
        "nav": "supervisor", "rows": figures.operators, "days": days, "counts": figures.queue, "waiting": waiting,
        "auto_assign": await auto_assign_enabled(request.config_dict),
    })


@routes.post("/console/supervisor/auto-assign")
@require_role(*SUPERVISORS)
@page_action
async def supervisor_auto_assign(request: web.Request) -> web.Response:
    form = await request.post()
    enabled = form.get("enabled") == "1"
    assigned = await switch_auto_assign(request.config_dict, enabled)
    if enabled:
        await flash(request, f"已开启轮流自动分配，当前已分配 {assigned} 件待审核工单")
    else:
        await flash(request, "已关闭自动分配")
    raise web.HTTPSeeOther("/console/supervisor")


@routes.post("/console/supervisor/shift/{username}")
@require_role(*SUPERVISORS)
@page_action
async def supervisor_shift(request: web.Request) -> web.Response:
    form = await request.post()
    user = await set_shift(request.config_dict, request.match_info["username"], form.get("on_shift") == "1")
    await flash(request, f"{user.display_name} {'已上班' if user.on_shift else '已下班'}")
    raise web.HTTPSeeOther("/console/supervisor")


@routes.get("/console/audit")
@require_role(*SUPERVISORS)
async def audit_page(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session:
        rows = await audit.audit_entries(session, **audit_filter(request.query))
    return await render(request, "console/audit.html",
                        {"nav": "audit", "rows": rows, "audit_labels": AUDIT_LABELS})


# --------------------------------------------------------------------------- admins

@routes.get("/console/admin/users")
@require_role(*ADMINS)
async def users_page(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session:
        users = await accounts_users.list_users(session)
    return await render(request, "console/admin_users.html", {"nav": "users", "users": users,
                                                               "roles": ROLE_LABELS})


@routes.post("/console/admin/users")
@require_role(*ADMINS)
@page_action
async def users_add(request: web.Request) -> web.Response:
    form = await request.post()
    async with request.config_dict[SESSIONS]() as session, session.begin():
        user = await accounts_users.create_user(session, str(form.get("username", "")), role=str(form.get("role", "")),
                                          password=str(form.get("password", "")),
                                          display_name=str(form.get("display_name", "")) or None,
                                          actor=user_of(request).username)
    await flash(request, f"已创建账号 {user.username}")
    raise web.HTTPSeeOther("/console/admin/users")


@routes.post("/console/admin/users/{username}")
@require_role(*ADMINS)
@page_action
async def users_update(request: web.Request) -> web.Response:
    form = await request.post()
    changes: dict[str, Any] = {}
    if form.get("role"):
        changes["role"] = str(form["role"])
    if form.get("active") in ("0", "1"):
        changes["active"] = form["active"] == "1"
    if form.get("password"):
        changes["password"] = str(form["password"])
    if form.get("unlock") == "1":
        changes["unlock"] = True
    async with request.config_dict[SESSIONS]() as session, session.begin():
        user = await accounts_users.user_by_name(session, request.match_info["username"])
        if user is None:
            raise ConsoleError(404, "not_found", "没有这个账号")
        await accounts_users.update_user(session, user, actor=user_of(request).username, **changes)
    await flash(request, f"已更新账号 {user.username}")
    raise web.HTTPSeeOther("/console/admin/users")
