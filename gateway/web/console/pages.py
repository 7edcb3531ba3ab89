"""Server-rendered console pages of the ticket work (Jinja2 + htmx): signing in, the queue, one
ticket and its actions, manual intake.  The supervisors' and admins' pages are
:mod:`gateway.web.console.team_pages`.

Forms post back and redirect (POST → 303 → GET), so a reload never repeats an action and
the pages work without JavaScript; htmx adds the live queue, the NLU hints while typing and
in-place contact reveals.  Every handler is wrapped in ``require_role`` (CSRF included) and
calls the same functions as the JSON API (``actions``, ``team``, ``forms``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from gateway.infra.resources import ATTACHMENTS, DIRECTORY, NLU, SESSIONS, SETTINGS
from gateway.web.attachment_files import attachment_response
from gateway.web.auth import (
    ANY_ROLE,
    OPERATORS,
    SUPERVISORS,
    actor_of,
    current_user,
    end_session,
    flash,
    public,
    require_role,
    user_of,
)
from gateway.web.console import actions, bulk
from gateway.web.console.api import DECIDERS, DISPATCHERS, READERS
from gateway.web.console.forms import intake_from_multipart, local_date, queue_filter
from gateway.web.console.models import BULK_LIMIT
from gateway.web.console.page_actions import HOME_BY_ROLE, page_action, safe_next
from gateway.web.console.team import canned_list, faq_answers, login_user, set_shift
from gateway.web.errors import ApiError
from gateway.web.present import Labels, local, summary
from gateway.web.security import check_csrf
from gateway.web.staff_pages import render
from gateway.web.validation import path_id
from nlu import type_ranking
from ticketing.accounts import canned_replies
from ticketing.accounts import users as accounts_users
from ticketing.accounts.roles import CONSOLE_ROLES
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Attachment, Ticket
from ticketing.errors import ConsoleError
from ticketing.tickets import queue
from ticketing.tickets.claims import may_reveal
from ticketing.tickets.lifecycle import STATUS_LABELS
from ticketing.tickets.queue import QueueFilter
from ticketing.workflow import assignments

routes = web.RouteTableDef()


# --------------------------------------------------------------------------- login

@routes.get("/console/login")
@public
async def login_page(request: web.Request) -> web.Response:
    user = await current_user(request)
    if user is not None:
        raise web.HTTPSeeOther(HOME_BY_ROLE.get(user.role, "/console"))
    return await render(request, "console/login.html", {"next": safe_next(request.query.get("next"), ""),
                                                         "error": None, "username": ""})


@routes.post("/console/login")
@public
async def login_submit(request: web.Request) -> web.Response:
    await check_csrf(request)
    form = await request.post()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    try:
        user = await login_user(request, username, password)
    except ApiError as exc:
        error = exc.message
    else:
        raise web.HTTPSeeOther(safe_next(str(form.get("next", "")), HOME_BY_ROLE.get(user.role, "/console")))
    return await render(request, "console/login.html", {"next": safe_next(str(form.get("next", "")), ""),
                                                         "error": error, "username": username}, status=401)


@routes.post("/console/logout")
@require_role(*ANY_ROLE, "dispatcher", "callback", "leader")
async def logout(request: web.Request) -> web.Response:
    await end_session(request)
    raise web.HTTPSeeOther("/console/login")


@routes.post("/console/shift")
@require_role(*OPERATORS)
@page_action
async def toggle_shift(request: web.Request) -> web.Response:
    form = await request.post()
    user = await set_shift(request.config_dict, user_of(request).username, form.get("on_shift") == "1")
    await flash(request, "已开始上班，可接收自动分配的工单" if user.on_shift else "已下班，不再接收自动分配")
    raise web.HTTPSeeOther(safe_next(str(form.get("next", "")), "/console"))


# --------------------------------------------------------------------------- queue

def _filter_options(directory) -> dict[str, Any]:
    return {
        "statuses": [("", "待审核（默认）"), ("open", "全部未办结"), ("all", "全部状态")]
        + [(s.value, label) for s, label in STATUS_LABELS.items()],
        "channels": [(c.code, c.name) for c in directory.channels],
        "departments": [(d.code, d.name) for d in directory.departments],
        "regions": [(r.code, r.name) for r in directory.regions],
        "request_types": [(r.code, r.name) for r in directory.request_types],
    }


async def _queue_context(request: web.Request) -> dict[str, Any]:
    directory = request.config_dict[DIRECTORY]
    query = request.query
    try:
        flt, limit, offset = queue_filter(query, directory)
    except ApiError as exc:
        await flash(request, exc.message, "error")
        flt, limit, offset = QueueFilter(), 50, 0
    async with request.config_dict[SESSIONS]() as session:
        page = await queue.search(session, flt, actor_of(request), limit=limit, offset=offset)
        counts = await queue.queue_counts(session)
        started = await actions.dispatched_at(session, [t.id for t in page.tickets])
        await session.commit()  # a search by phone number is audited
    labels = Labels(directory)
    now = utcnow()
    params = {k: v for k, v in query.items() if k not in ("offset",) and v}
    return {
        "page": page,
        "tickets": [{**summary(t, labels, now=now, started_at=started.get(t.id)), "unread": t.id in page.unread}
                    for t in page.tickets],
        "counts": counts,
        "flt": flt,
        "query": urlencode(params),
        "prev_offset": max(0, offset - limit) if offset > 0 else None,
        "next_offset": offset + limit if len(page.tickets) == limit else None,
        "options": _filter_options(directory),
        "me": user_of(request).username,
        "can_bulk": user_of(request).role in OPERATORS,
    }


@routes.get("/console")
@require_role(*READERS)
async def queue_page(request: web.Request) -> web.Response:
    context = await _queue_context(request)
    context["operators"] = []
    if user_of(request).role in SUPERVISORS:  # 分派给 is the supervisors' (as for one ticket)
        async with request.config_dict[SESSIONS]() as session:
            context["operators"] = [u for u in await accounts_users.list_users(session, roles=tuple(CONSOLE_ROLES))
                                    if u.active]
    return await render(request, "console/queue.html", {"nav": "queue", **context})


@routes.get("/console/queue/panel")
@require_role(*READERS)
async def queue_panel(request: web.Request) -> web.Response:
    """The live part of the queue, re-fetched by htmx when an SSE event arrives."""
    return await render(request, "console/_queue_panel.html", await _queue_context(request))


@routes.post("/console/bulk")
@require_role(*OPERATORS)
@page_action
async def bulk_action(request: web.Request) -> web.Response:
    """The queue's checkboxes: one action on the selected tickets, one result per ticket."""
    form = await request.post()
    action = str(form.get("action", ""))
    numbers = [str(v) for v in form.getall("numbers", [])][:BULK_LIMIT]
    results = await bulk.run(request.config_dict, actor_of(request), action, numbers,
                             username=str(form.get("username", "")).strip() or None,
                             into=str(form.get("into", "")).strip() or None)
    done, failed = bulk.summary_text(action, results)
    await flash(request, done, "info" if failed is None else "error")
    if failed is not None:
        await flash(request, failed, "error")
    raise web.HTTPSeeOther(safe_next(str(form.get("next", "")), "/console"))


# --------------------------------------------------------------------------- one ticket

# Sent by console.js when an event names the open ticket and it fetches the page again.
LIVE_REFRESH_HEADER = "X-Console-Refresh"


@routes.get("/console/tickets/{number}")
@require_role(*READERS)
async def ticket_page(request: web.Request) -> web.Response:
    actor = actor_of(request)
    try:
        view = await actions.ticket_view(request.config_dict, actor, request.match_info["number"], mark_read=True)
    except ConsoleError as exc:
        await flash(request, exc.message, "error")
        raise web.HTTPSeeOther("/console") from None
    directory = request.config_dict[DIRECTORY]
    context: dict[str, Any] = {"nav": "queue", "t": view, "options": _filter_options(directory),
                               "targets": assignments.dispatch_targets(directory)}
    async with request.config_dict[SESSIONS]() as session:
        context["canned"] = canned_list(await canned_replies.canned_replies(session, actor), faq_answers(request.config_dict))
        if actor.supervisor:
            context["operators"] = [u for u in await accounts_users.list_users(session, roles=tuple(CONSOLE_ROLES))
                                    if u.active]
        else:
            context["operators"] = []
    # The page's own live refresh (a background fetch) must not swallow the messages of the next action.
    refresh = request.headers.get(LIVE_REFRESH_HEADER) == "1"
    return await render(request, "console/ticket.html", context, keep_flashes=refresh)


def _number(request: web.Request) -> str:
    return request.match_info["number"]


def _back(request: web.Request) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/console/tickets/{_number(request)}")


@routes.post("/console/tickets/{number}/claim")
@require_role(*OPERATORS)
@page_action
async def claim(request: web.Request) -> web.Response:
    await actions.claim(request.config_dict, actor_of(request), _number(request))
    await flash(request, f"已认领工单 {_number(request)}")
    raise _back(request)


@routes.post("/console/tickets/{number}/release")
@require_role(*OPERATORS)
@page_action
async def release(request: web.Request) -> web.Response:
    await actions.release(request.config_dict, actor_of(request), _number(request))
    await flash(request, "已释放，工单回到公共队列")
    raise web.HTTPSeeOther("/console")


@routes.post("/console/tickets/{number}/assign")
@require_role(*SUPERVISORS)
@page_action
async def assign(request: web.Request) -> web.Response:
    form = await request.post()
    to = str(form.get("username", "")).strip() or None
    await actions.assign(request.config_dict, actor_of(request), _number(request), to)
    await flash(request, f"已改派给 {to}" if to else "已退回公共队列")
    raise _back(request)


@routes.post("/console/tickets/{number}/reveal")
@require_role(*OPERATORS)
async def reveal(request: web.Request) -> web.Response:
    """htmx: replace the masked contact block with the full details (audited)."""
    try:
        contact = await actions.reveal(request.config_dict, actor_of(request), _number(request))
        error = None
    except ConsoleError as exc:
        contact, error = None, exc.message
    return await render(request, "console/_contact.html", {"contact": contact, "error": error, "revealed": True,
                                                            "number": _number(request), "can_reveal": False})


@routes.post("/console/tickets/{number}/classify")
@require_role(*OPERATORS)
@page_action
async def classify(request: web.Request) -> web.Response:
    form = await request.post()
    values = {k: str(form.get(k, "")) or None for k in ("department", "region", "request_type")}
    values["urgent"] = form.get("urgent") in ("1", "on", "true")
    changes = await actions.classify(request.config_dict, actor_of(request), _number(request), values)
    await flash(request, "已更正分类，更正已记入训练建议" if changes else "已确认分类")
    raise _back(request)


@routes.post("/console/tickets/{number}/reply")
@require_role(*OPERATORS)
@page_action
async def reply(request: web.Request) -> web.Response:
    form = await request.post()
    entry = await actions.reply(request.config_dict, actor_of(request), _number(request), str(form.get("text", "")),
                                mark_answered=form.get("mark_answered") in ("1", "on"))
    if entry.delivery_status == "sent":
        await flash(request, "答复已发送")
    else:
        await flash(request, f"答复已保存，但未能发出：{entry.delivery_detail or ''}", "error")
    raise _back(request)


@routes.post("/console/tickets/{number}/retry/{entry_id:\\d+}")
@require_role(*OPERATORS)
@page_action
async def retry(request: web.Request) -> web.Response:
    entry = await actions.retry_delivery(request.config_dict, actor_of(request), _number(request),
                                         path_id(request, "entry_id"))
    sent = entry.delivery_status == "sent"
    await flash(request, "答复已发送" if sent else f"仍未发出：{entry.delivery_detail or ''}",
                "info" if entry.delivery_status == "sent" else "error")
    raise _back(request)


@routes.post("/console/tickets/{number}/note")
@require_role(*OPERATORS)
@page_action
async def note(request: web.Request) -> web.Response:
    form = await request.post()
    await actions.note(request.config_dict, actor_of(request), _number(request), str(form.get("text", "")))
    await flash(request, "已添加内部备注")
    raise _back(request)


@routes.post("/console/tickets/{number}/merge")
@require_role(*OPERATORS)
@page_action
async def merge(request: web.Request) -> web.Response:
    form = await request.post()
    into = str(form.get("into", "")).strip().upper()
    await actions.merge(request.config_dict, actor_of(request), _number(request), into)
    await flash(request, f"已合并到工单 {into}")
    raise web.HTTPSeeOther(f"/console/tickets/{into}")


@routes.post("/console/tickets/{number}/dispatch")
@require_role(*DISPATCHERS)
@page_action
async def dispatch(request: web.Request) -> web.Response:
    form = await request.post()
    kind, _, code = str(form.get("target", "")).partition(":")
    assists = [str(v) for v in form.getall("assists", []) if str(v)]
    row = await actions.dispatch(request.config_dict, actor_of(request), _number(request), target_kind=kind or None,
                                 target=code, note_text=str(form.get("note", "")), assists=assists,
                                 deadline=local_date(str(form.get("deadline", "")), required=False, what="办理时限"),
                                 deadline_reason=str(form.get("deadline_reason", "")))
    await flash(request, f"已交办，办理时限至 {local(row.deadline)}" if row.deadline else "已交办")
    raise _back(request)


@routes.post("/console/tickets/{number}/review")
@require_role(*DISPATCHERS)
@page_action
async def review(request: web.Request) -> web.Response:
    form = await request.post()
    decision = str(form.get("decision", ""))
    result = await actions.review(request.config_dict, actor_of(request), _number(request), decision=decision,
                                  text=str(form.get("text", "")), reason=str(form.get("reason", "")))
    if result.decision == "reject":
        await flash(request, "答复已退回单位重新办理")
    elif result.entry is not None and result.entry.delivery_status == "sent":
        await flash(request, "答复已审核通过并发送给群众（附一事一评链接）")
    else:
        detail = result.entry.delivery_detail if result.entry is not None else ""
        await flash(request, f"答复已审核通过，但未能发出：{detail or ''}", "error")
    raise _back(request)


@routes.post("/console/tickets/{number}/extension")
@require_role(*DECIDERS)
@page_action
async def extension(request: web.Request) -> web.Response:
    form = await request.post()
    approve = form.get("approve") == "1"
    await actions.decide_extension(request.config_dict, actor_of(request), _number(request), approve=approve,
                                   note=str(form.get("note", "")))
    await flash(request, "已同意延期" if approve else "已不同意延期，单位须按原时限办结")
    raise _back(request)


@routes.post("/console/tickets/{number}/deadline")
@require_role(*DECIDERS)
@page_action
async def deadline(request: web.Request) -> web.Response:
    form = await request.post()
    day = local_date(str(form.get("date", "")), what="办理时限")
    assert day is not None
    row = await actions.change_deadline(request.config_dict, actor_of(request), _number(request), day=day,
                                        reason=str(form.get("reason", "")))
    await flash(request, f"办理时限已改为 {local(row.deadline)}")
    raise _back(request)


@routes.post("/console/tickets/{number}/supervise")
@require_role(*DECIDERS)
@page_action
async def supervise(request: web.Request) -> web.Response:
    form = await request.post()
    note = await actions.supervise(request.config_dict, actor_of(request), _number(request),
                                   text=str(form.get("text", "")),
                                   day=local_date(str(form.get("date", "")), required=False, what="督办时限"))
    await flash(request, f"已下发第 {note.seq} 次督办单" + ("，并已提请单位领导关注" if note.escalated_to else ""))
    raise _back(request)


def _lifecycle_page(action: str, message: str, roles: tuple[str, ...] = OPERATORS):
    @require_role(*roles)
    @page_action
    async def handler(request: web.Request) -> web.Response:
        form = await request.post()
        await actions.lifecycle(request.config_dict, actor_of(request), _number(request), action,
                                str(form.get("note", "")).strip() or None)
        await flash(request, message)
        raise _back(request)

    handler.__name__ = f"page_{action}"
    return handler


routes.post("/console/tickets/{number}/answer")(_lifecycle_page("answer", "已标记为已答复（直接办结）"))
routes.post("/console/tickets/{number}/close")(_lifecycle_page("close", "工单已办结", DISPATCHERS))
routes.post("/console/tickets/{number}/reopen")(_lifecycle_page("reopen", "工单已重新打开，回到待审核队列"))


@routes.get("/console/attachments/{attachment_id:\\d+}")
@require_role(*READERS)
async def attachment(request: web.Request) -> web.StreamResponse:
    async with request.config_dict[SESSIONS]() as session:
        att = await session.get(Attachment, path_id(request, "attachment_id"))
        # The original e-mail's headers carry the sender's address: only for who may reveal the contact.
        ticket = await session.get(Ticket, att.ticket_id) if att is not None and att.ticket_id else None
    if att is None:
        raise web.HTTPNotFound(text="附件不存在")
    if att.kind == "original_email" and (ticket is None or not may_reveal(ticket, actor_of(request))):
        raise web.HTTPForbidden(text="原始邮件含群众联系方式，认领工单后方可查看")
    return await attachment_response(request, request.config_dict[ATTACHMENTS], att)


# --------------------------------------------------------------------------- manual intake

@routes.get("/console/intake")
@require_role(*OPERATORS)
async def intake_page(request: web.Request) -> web.Response:
    return await _intake_form(request)


# What the intake form gives back after a refusal (files cannot be refilled by the server).
INTAKE_FIELDS = ("channel", "name", "phone", "title", "email", "text", "department", "region", "request_type",
                 "urgent", "nlu_department", "nlu_region", "nlu_request_type", "nlu_model", "nlu_confidence")


async def _intake_form(request: web.Request, typed: dict[str, str] | None = None, error: str | None = None,
                       *, status: int = 200, had_files: bool = False) -> web.Response:
    return await render(request, "console/intake.html", {
        "nav": "intake", "options": _filter_options(request.config_dict[DIRECTORY]),
        "typed": typed or {"channel": "phone"}, "error": error, "had_files": had_files,
    }, status=status)


@routes.post("/console/intake")
@require_role(*OPERATORS)
@page_action
async def intake_submit(request: web.Request) -> web.Response:
    try:
        data = await intake_from_multipart(request)
        ticket = await actions.intake(request.config_dict, actor_of(request), data)
    except (ConsoleError, ApiError) as exc:
        # A redirect would lose what the operator typed during the call: the form comes back filled in.
        form = await request.post()  # aiohttp keeps the parsed body
        typed = {k: str(form.get(k)) for k in INTAKE_FIELDS if isinstance(form.get(k), str)}
        had_files = any(getattr(v, "filename", "") for v in form.getall("attachments", []))
        return await _intake_form(request, typed, exc.message, status=exc.status, had_files=had_files)
    await flash(request, f"已录入工单 {ticket.number}")
    raise web.HTTPSeeOther(f"/console/tickets/{ticket.number}")


@routes.post("/console/intake/suggest")
@require_role(*OPERATORS)
async def intake_suggest(request: web.Request) -> web.Response:
    """htmx, as the operator types: what the NLU makes of the text (same client as
    ``POST /api/v1/nlu/parse``)."""
    form = await request.post()
    text = str(form.get("text", "")).strip()[: request.config_dict[SETTINGS].max_text_chars]
    result = None
    if len(text) >= 4:
        nlu = request.config_dict.get(NLU)
        if nlu is not None:
            result = (await nlu.parse(text)).to_dict()
    typed = type_ranking.confidence_of(result["request_type"], result["request_type_alternatives"]) if result else None
    return await render(request, "console/_suggest.html", {"r": result, "text": text, "type_confidence": typed,
                                                           "type_unsure": type_ranking.unsure(typed)})
