"""The console's JSON API under ``/api/v1/console/``: every console action, same session
and roles as the pages, CSRF in the ``X-CSRF-Token`` header on every unsafe request.

    GET  /api/v1/console/csrf                 → {"csrf_token"} (and the cookie it pairs with)
    POST /api/v1/console/login                {username, password}
    GET  /api/v1/console/tickets?q=…&status=… the queue / search
    POST /api/v1/console/tickets/{no}/claim   … and the other actions below
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from aiohttp import web

from gateway.infra.ratelimit import RateLimiter, client_address
from gateway.infra.resources import DIRECTORY, KEYS, NLU, REDIS, SESSIONS
from gateway.web.auth import (
    ADMINS,
    ANY_ROLE,
    OPERATORS,
    SUPERVISORS,
    actor_of,
    current_user,
    end_session,
    public,
    require_role,
    start_session,
    user_of,
)
from gateway.web.console import actions
from gateway.web.console.events import assign_backlog, auto_assign_enabled, set_auto_assign
from gateway.web.console.forms import audit_filter, intake_from_json, intake_from_multipart, queue_filter, stats_days
from gateway.web.errors import ApiError
from gateway.web.json_io import json_response, read_json
from gateway.web.present import LOCAL_TZ, Labels, summary
from gateway.web.security import check_csrf, csrf_token
from ticketing.accounts import audit, canned_replies
from ticketing.accounts import users as accounts_users
from ticketing.accounts.roles import CONSOLE_ROLES
from ticketing.accounts.users import AccountError
from ticketing.db.models.accounts import User
from ticketing.db.models.base import utcnow
from ticketing.errors import ConsoleError
from ticketing.supervision import shifts
from ticketing.supervision import stats as supervision_stats
from ticketing.tickets import dispatching, queue

routes = web.RouteTableDef()
P = "/api/v1/console"
LOGIN_ATTEMPTS_PER_MINUTE = 20


def console_errors(handler):
    """ConsoleError / AccountError → the API's JSON error."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ConsoleError as exc:
            raise ApiError(exc.status, exc.code, exc.message) from None
        except AccountError as exc:
            raise ApiError(400, "invalid_account", str(exc)) from None

    for attr in ("console_roles",):
        if hasattr(handler, attr):
            setattr(wrapper, attr, getattr(handler, attr))
    return wrapper


def api(*roles: str):
    """Role check (+CSRF) then error translation, for one API handler."""

    def decorate(handler):
        return require_role(*roles, api=True)(console_errors(handler))

    return decorate


async def body(request: web.Request) -> dict[str, Any]:
    if request.content_length in (None, 0) and request.content_type != "application/json":
        return {}
    payload = await read_json(request)
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_body", "请求体必须是 JSON 对象")
    return payload


def user_dict(user: User) -> dict[str, Any]:
    return {"username": user.username, "display_name": user.display_name, "role": user.role,
            "role_label": user.role_label, "active": user.active, "on_shift": user.on_shift,
            "locked": user.locked(), "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None}


def _number(request: web.Request) -> str:
    return request.match_info["number"]


# --------------------------------------------------------------------------- session

@routes.get(f"{P}/csrf")
@public
async def get_csrf(request: web.Request) -> web.Response:
    return json_response({"csrf_token": csrf_token(request), "header": "X-CSRF-Token"})


@routes.post(f"{P}/login")
@public
async def login(request: web.Request) -> web.Response:
    await check_csrf(request)
    app = request.config_dict
    ip = client_address(request)
    if not await RateLimiter(app[REDIS], app[KEYS]).allow("console-login", ip, LOGIN_ATTEMPTS_PER_MINUTE):
        raise ApiError(429, "rate_limited", "登录尝试过于频繁，请稍后再试")
    payload = await body(request)
    username, password = payload.get("username"), payload.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise ApiError(400, "invalid_body", "请填写用户名和密码")
    result = await login_user(request, username, password)
    return json_response({"user": user_dict(result)})


async def login_user(request: web.Request, username: str, password: str) -> User:
    """Shared by the API and the login page; raises ApiError with the Chinese reason."""
    async with request.config_dict[SESSIONS]() as session:
        result = await accounts_users.authenticate(session, username, password, ip=client_address(request))
        await session.commit()
    if result.error == "locked":
        until = result.locked_until.astimezone(LOCAL_TZ).strftime("%H:%M") if result.locked_until else ""
        raise ApiError(423, "account_locked", f"登录失败次数过多，账号已锁定，请于 {until} 后重试或联系管理员解锁")
    if result.error == "inactive":
        raise ApiError(403, "account_inactive", "该账号已停用，请联系管理员")
    if not result.ok:
        raise ApiError(401, "invalid_credentials", "用户名或密码错误")
    await start_session(request, result.user)
    return result.user


@routes.post(f"{P}/logout")
@api(*ANY_ROLE)
async def logout(request: web.Request) -> web.Response:
    await end_session(request)
    return json_response({"ok": True})


@routes.get(f"{P}/me")
@api(*ANY_ROLE)
async def me(request: web.Request) -> web.Response:
    user = await current_user(request)
    shift = shifts.shift_status(request.config_dict[DIRECTORY])
    return json_response({"user": user_dict(user), "shift": {
        "on_duty": shift.on_duty, "start": shift.start, "end": shift.end,
        "next_start": shift.next_start.isoformat() if shift.next_start else None}})


@routes.post(f"{P}/me/shift")
@api(*OPERATORS)
async def my_shift(request: web.Request) -> web.Response:
    payload = await body(request)
    return json_response({"user": user_dict(await set_shift(request, user_of(request).username,
                                                             bool(payload.get("on_shift"))))})


async def set_shift(request: web.Request, username: str, on_shift: bool) -> User:
    async with request.config_dict[SESSIONS]() as session, session.begin():
        user = await accounts_users.user_by_name(session, username)
        if user is None or user.role not in CONSOLE_ROLES:
            raise ConsoleError(404, "unknown_operator", f"没有坐席 {username}")
        await accounts_users.set_on_shift(session, user, on_shift)
    return user


@routes.get(f"{P}/directory")
@api(*ANY_ROLE)
async def directory(request: web.Request) -> web.Response:
    d = request.config_dict[DIRECTORY]
    return json_response({
        "departments": [{"code": x.code, "name": x.name} for x in d.departments],
        "regions": [{"code": x.code, "name": x.name, "role": x.role} for x in d.regions],
        "request_types": [{"code": x.code, "name": x.name} for x in d.request_types],
        "channels": [{"code": x.code, "name": x.name} for x in d.channels],
        "dispatch_targets": [{"kind": t.kind, "code": t.code, "name": t.name} for t in dispatching.dispatch_targets(d)],
    })


# --------------------------------------------------------------------------- queue

@routes.get(f"{P}/tickets")
@api(*OPERATORS)
async def list_tickets(request: web.Request) -> web.Response:
    flt, limit, offset = queue_filter(request.query, request.config_dict[DIRECTORY])
    async with request.config_dict[SESSIONS]() as session:
        page = await queue.queue(session, flt, limit=limit, offset=offset)
    labels = Labels(request.config_dict[DIRECTORY])
    now = utcnow()
    return json_response({"tickets": [summary(t, labels, now=now) for t in page.tickets], "total": page.total,
                          "limit": page.limit, "offset": page.offset, "search": page.searching})


@routes.get(f"{P}/queue/counts")
@api(*OPERATORS)
async def counts(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session:
        return json_response(await queue.queue_counts(session))


@routes.post(f"{P}/tickets")
@api(*OPERATORS)
async def create_ticket(request: web.Request) -> web.Response:
    if request.content_type.startswith("multipart/"):
        data = await intake_from_multipart(request)
    else:
        data = intake_from_json(await body(request))
    ticket = await actions.intake(request.config_dict, actor_of(request), data)
    return json_response({"ticket": summary(ticket, Labels(request.config_dict[DIRECTORY]))}, status=201)


@routes.get(P + "/tickets/{number}")
@api(*OPERATORS)
async def get_ticket(request: web.Request) -> web.Response:
    return json_response({"ticket": await actions.ticket_view(request.config_dict, actor_of(request), _number(request))})


async def _ticket_response(request: web.Request, **extra: Any) -> web.Response:
    view = await actions.ticket_view(request.config_dict, actor_of(request), _number(request))
    return json_response({"ticket": view, **extra})


@routes.post(P + "/tickets/{number}/claim")
@api(*OPERATORS)
async def claim(request: web.Request) -> web.Response:
    await actions.claim(request.config_dict, actor_of(request), _number(request))
    return await _ticket_response(request)


@routes.post(P + "/tickets/{number}/release")
@api(*OPERATORS)
async def release(request: web.Request) -> web.Response:
    await actions.release(request.config_dict, actor_of(request), _number(request))
    return await _ticket_response(request)


@routes.post(P + "/tickets/{number}/assign")
@api(*SUPERVISORS)
async def assign(request: web.Request) -> web.Response:
    payload = await body(request)
    to = payload.get("username")
    if to is not None and not isinstance(to, str):
        raise ApiError(400, "invalid_username", "username 必须是文本或 null")
    await actions.assign(request.config_dict, actor_of(request), _number(request), to or None)
    return await _ticket_response(request)


@routes.post(P + "/tickets/{number}/reveal")
@api(*OPERATORS)
async def reveal(request: web.Request) -> web.Response:
    return json_response({"contact": await actions.reveal(request.config_dict, actor_of(request), _number(request))})


@routes.post(P + "/tickets/{number}/classification")
@api(*OPERATORS)
async def classification(request: web.Request) -> web.Response:
    payload = await body(request)
    await actions.classify(request.config_dict, actor_of(request), _number(request), payload)
    return await _ticket_response(request)


@routes.post(P + "/tickets/{number}/reply")
@api(*OPERATORS)
async def reply(request: web.Request) -> web.Response:
    payload = await body(request)
    entry = await actions.reply(request.config_dict, actor_of(request), _number(request), payload.get("text"),
                                mark_answered=bool(payload.get("mark_answered")))
    return await _ticket_response(request, delivery={"entry_id": entry.id, "status": entry.delivery_status,
                                                     "detail": entry.delivery_detail})


@routes.post(P + "/tickets/{number}/entries/{entry_id:\\d+}/retry")
@api(*OPERATORS)
async def retry(request: web.Request) -> web.Response:
    entry = await actions.retry_delivery(request.config_dict, actor_of(request), _number(request),
                                         int(request.match_info["entry_id"]))
    return json_response({"delivery": {"entry_id": entry.id, "status": entry.delivery_status,
                                       "detail": entry.delivery_detail}})


@routes.post(P + "/tickets/{number}/notes")
@api(*OPERATORS)
async def add_note(request: web.Request) -> web.Response:
    payload = await body(request)
    entry = await actions.note(request.config_dict, actor_of(request), _number(request), payload.get("text"))
    return await _ticket_response(request, note_id=entry.id)


@routes.post(P + "/tickets/{number}/merge")
@api(*OPERATORS)
async def merge(request: web.Request) -> web.Response:
    payload = await body(request)
    await actions.merge(request.config_dict, actor_of(request), _number(request), payload.get("into"))
    return await _ticket_response(request)


def _lifecycle(action: str):
    @api(*OPERATORS)
    async def handler(request: web.Request) -> web.Response:
        payload = await body(request)
        note = payload.get("note") or payload.get("reason")
        await actions.lifecycle(request.config_dict, actor_of(request), _number(request), action,
                                note if isinstance(note, str) else None)
        return await _ticket_response(request)

    handler.__name__ = f"lifecycle_{action}"
    return handler


for _action in ("answer", "close", "reopen"):
    routes.post(P + "/tickets/{number}/" + _action)(_lifecycle(_action))


@routes.post(P + "/tickets/{number}/dispatch")
@api(*OPERATORS)
async def dispatch(request: web.Request) -> web.Response:
    payload = await body(request)
    row = await actions.dispatch(request.config_dict, actor_of(request), _number(request),
                                 target_kind=payload.get("target_kind"), target=payload.get("target"),
                                 note_text=payload.get("note"))
    return await _ticket_response(request, dispatch={"target_kind": row.target_kind, "target": row.target,
                                                     "deadline": row.deadline.isoformat() if row.deadline else None})


# --------------------------------------------------------------------------- canned replies

def canned_list(rows, faq: dict[str, str]) -> list[dict[str, Any]]:
    out = [{"id": r.id, "title": r.title, "text": r.text, "kind": "shared" if r.owner is None else "own"}
           for r in rows]
    out += [{"id": f"faq:{key}", "title": key.removeprefix("faq/"), "text": text, "kind": "faq"}
            for key, text in sorted(faq.items()) if key.startswith("faq/")]
    return out


def faq_answers(app: web.Application) -> dict[str, str]:
    nlu = app.get(NLU)
    return dict(getattr(nlu, "answers", {}) or {})


@routes.get(f"{P}/canned-replies")
@api(*OPERATORS)
async def list_canned(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session:
        rows = await canned_replies.canned_replies(session, actor_of(request))
    return json_response({"canned_replies": canned_list(rows, faq_answers(request.config_dict))})


@routes.post(f"{P}/canned-replies")
@api(*OPERATORS)
async def add_canned(request: web.Request) -> web.Response:
    payload = await body(request)
    async with request.config_dict[SESSIONS]() as session, session.begin():
        row = await canned_replies.add_canned_reply(session, actor_of(request), payload.get("title"), payload.get("text"),
                                        shared=bool(payload.get("shared")))
    return json_response({"id": row.id, "title": row.title, "text": row.text,
                          "kind": "shared" if row.owner is None else "own"}, status=201)


@routes.delete(P + "/canned-replies/{reply_id:\\d+}")
@api(*OPERATORS)
async def delete_canned(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session, session.begin():
        await canned_replies.delete_canned_reply(session, actor_of(request), int(request.match_info["reply_id"]))
    return json_response({"ok": True})


# --------------------------------------------------------------------------- supervisors

@routes.get(f"{P}/stats")
@api(*SUPERVISORS)
async def stats(request: web.Request) -> web.Response:
    days = stats_days(request.query)
    since = utcnow() - timedelta(days=days)
    async with request.config_dict[SESSIONS]() as session:
        rows = await supervision_stats.operator_stats(session, since=since)
        queue_now = await queue.queue_counts(session)
    return json_response({"days": days, "since": since.isoformat(), "operators": [r.to_dict() for r in rows],
                          "queue": queue_now})


@routes.get(f"{P}/operators")
@api(*SUPERVISORS)
async def operators(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session:
        users = await accounts_users.list_users(session, roles=tuple(CONSOLE_ROLES))
    return json_response({"operators": [user_dict(u) for u in users]})


@routes.post(P + "/operators/{username}/shift")
@api(*SUPERVISORS)
async def operator_shift(request: web.Request) -> web.Response:
    payload = await body(request)
    user = await set_shift(request, request.match_info["username"], bool(payload.get("on_shift")))
    return json_response({"user": user_dict(user)})


@routes.get(f"{P}/auto-assign")
@api(*SUPERVISORS)
async def get_auto_assign(request: web.Request) -> web.Response:
    return json_response({"enabled": await auto_assign_enabled(request.config_dict)})


@routes.post(f"{P}/auto-assign")
@api(*SUPERVISORS)
async def post_auto_assign(request: web.Request) -> web.Response:
    payload = await body(request)
    enabled = bool(payload.get("enabled"))
    await set_auto_assign(request.config_dict, enabled)
    assigned = await assign_backlog(request.config_dict) if enabled else 0
    return json_response({"enabled": enabled, "assigned_now": assigned})


@routes.get(f"{P}/audit")
@api(*SUPERVISORS)
async def audit_log(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session:
        rows = await audit.audit_entries(session, **audit_filter(request.query))
    return json_response({"audit": [{"at": r.at.isoformat(), "actor": r.actor, "action": r.action,
                                     "ticket_id": r.ticket_id, "target": r.target, "ip": r.ip, "detail": r.detail}
                                    for r in rows]})


# --------------------------------------------------------------------------- admins

@routes.get(f"{P}/users")
@api(*ADMINS)
async def list_users(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session:
        users = await accounts_users.list_users(session)
    return json_response({"users": [user_dict(u) for u in users]})


@routes.post(f"{P}/users")
@api(*ADMINS)
async def add_user(request: web.Request) -> web.Response:
    payload = await body(request)
    async with request.config_dict[SESSIONS]() as session, session.begin():
        user = await accounts_users.create_user(session, str(payload.get("username") or ""),
                                          role=str(payload.get("role") or ""),
                                          password=payload.get("password") or "",
                                          display_name=payload.get("display_name"),
                                          actor=user_of(request).username)
    return json_response({"user": user_dict(user)}, status=201)


@routes.post(P + "/users/{username}")
@api(*ADMINS)
async def update_user(request: web.Request) -> web.Response:
    payload = await body(request)
    allowed = {"role", "display_name", "active", "password", "unlock"}
    if set(payload) - allowed:
        raise ApiError(400, "unknown_field", f"不支持的字段：{', '.join(sorted(set(payload) - allowed))}")
    async with request.config_dict[SESSIONS]() as session, session.begin():
        user = await accounts_users.user_by_name(session, request.match_info["username"])
        if user is None:
            raise ApiError(404, "not_found", "没有这个账号")
        await accounts_users.update_user(session, user, actor=user_of(request).username, **payload)
    return json_response({"user": user_dict(user)})
