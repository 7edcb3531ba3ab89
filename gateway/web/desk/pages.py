"""Server-rendered desk pages (Jinja2 + htmx): the unit's queue with its tabs, one ticket and its
forms.  Forms post back and redirect (POST → 303 → GET); a refused action comes back as a message
on the ticket's page, another unit's ticket as "not found".  The pages call the same functions as
the JSON API (``actions``)."""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web

from gateway.infra.resources import ATTACHMENTS, DIRECTORY
from gateway.web.attachment_files import attachment_response
from gateway.web.auth import Handler, actor_of, end_session, flash, require_role
from gateway.web.desk import actions
from gateway.web.desk.api import queue_query
from gateway.web.desk.forms import parse_date, read_upload
from gateway.web.errors import ApiError
from gateway.web.staff_pages import render
from gateway.web.validation import path_id
from ticketing.accounts.roles import UNIT_ROLES
from ticketing.errors import ConsoleError, IllegalTransition

routes = web.RouteTableDef()
HANDLERS = tuple(sorted(UNIT_ROLES))


def _number(request: web.Request) -> str:
    return request.match_info["number"]


def _back(request: web.Request) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/desk/tickets/{quote(_number(request))}")


def page_action(handler: Handler) -> Handler:
    """A refused action: its reason on the ticket's page; another unit's ticket: not found."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except (ConsoleError, ApiError) as exc:
            if exc.status == 404:
                raise web.HTTPNotFound(text=exc.message) from None
            if exc.status == 413:
                raise web.HTTPRequestEntityTooLarge(max_size=0, actual_size=0, text=exc.message) from None
            await flash(request, exc.message, "error")
        except IllegalTransition as exc:
            await flash(request, str(exc), "error")
        raise _back(request)

    return wrapper


# --------------------------------------------------------------------------- queue

async def _queue_context(request: web.Request) -> dict[str, Any]:
    try:
        tab, offset, limit = queue_query(request.query)
    except ApiError as exc:
        await flash(request, exc.message, "error")
        tab, offset, limit = "pending_sign", 0, 50
    page = await actions.queue(request.config_dict, actor_of(request), tab=tab, offset=offset, limit=limit)
    return {"q": page, "prev_offset": max(0, offset - limit) if offset > 0 else None,
            "next_offset": offset + limit if offset + limit < page["total"] else None,
            "unit_name": _unit_name(request)}


def _unit_name(request: web.Request) -> str:
    actor = actor_of(request)
    unit = request.config_dict[DIRECTORY].unit(actor.unit) if actor.unit else None
    return unit.name if unit else (actor.unit or "")


@routes.get("/desk")
@require_role(*HANDLERS)
async def queue_page(request: web.Request) -> web.Response:
    return await render(request, "desk/queue.html", await _queue_context(request))


@routes.get("/desk/queue/panel")
@require_role(*HANDLERS)
async def queue_panel(request: web.Request) -> web.Response:
    """The live part of the queue, re-fetched by htmx when an SSE event arrives (a fragment: the
    flashes stay for the next full page)."""
    return _fragment(request, "desk/_queue_panel.html", await _queue_context(request))


def _fragment(request: web.Request, template: str, context: dict[str, Any]) -> web.Response:
    response = aiohttp_jinja2.render_template(template, request, context)
    response.headers["Cache-Control"] = "no-store"  # carries citizens' data
    return response


@routes.post("/desk/logout")
@require_role(*HANDLERS)
async def logout(request: web.Request) -> web.Response:
    await end_session(request)
    raise web.HTTPSeeOther("/console/login")


# --------------------------------------------------------------------------- one ticket

@routes.get("/desk/tickets/{number}")
@require_role(*HANDLERS)
async def ticket_page(request: web.Request) -> web.Response:
    try:
        view = await actions.ticket(request.config_dict, actor_of(request), _number(request))
    except ConsoleError as exc:
        if exc.status == 404:
            return await render(request, "desk/not_found.html", {"message": exc.message}, status=404)
        raise
    return await render(request, "desk/ticket.html", {"t": view, "unit_name": _unit_name(request)})


@routes.post("/desk/tickets/{number}/sign")
@require_role(*HANDLERS)
@page_action
async def sign(request: web.Request) -> web.Response:
    await actions.sign(request.config_dict, actor_of(request), _number(request))
    await flash(request, "已签收，工单进入办理中")
    raise _back(request)


@routes.post("/desk/tickets/{number}/return")
@require_role(*HANDLERS)
@page_action
async def return_ticket(request: web.Request) -> web.Response:
    form = await request.post()
    await actions.return_ticket(request.config_dict, actor_of(request), _number(request),
                                reason=str(form.get("reason", "")), text=str(form.get("text", "")))
    await flash(request, "已退回平台")
    raise web.HTTPSeeOther("/desk")


def _report_page(what: str, message: str) -> Handler:
    write = {"progress": actions.progress, "answer": actions.answer}[what]

    @require_role(*HANDLERS)
    @page_action
    async def handler(request: web.Request) -> web.Response:
        upload = await read_upload(request)
        try:
            await write(request.config_dict, actor_of(request), _number(request), upload.fields.get("text", ""), upload)
        except BaseException:
            await upload.discard(request.config_dict[ATTACHMENTS])
            raise
        await flash(request, message)
        raise _back(request)

    handler.__name__ = f"page_{what}"
    return handler


routes.post("/desk/tickets/{number}/progress")(_report_page("progress", "已保存办理情况"))
routes.post("/desk/tickets/{number}/answer")(_report_page("answer", "答复已提交，等待平台审核"))


@routes.post("/desk/tickets/{number}/extension")
@require_role(*HANDLERS)
@page_action
async def extension(request: web.Request) -> web.Response:
    form = await request.post()
    await actions.extension(request.config_dict, actor_of(request), _number(request),
                            until=parse_date(form.get("until")), reason=str(form.get("reason", "")))
    await flash(request, "延期申请已提交，等待审批")
    raise _back(request)


@routes.post("/desk/tickets/{number}/supervision/{note_id:\\d+}/acknowledge")
@require_role(*HANDLERS)
@page_action
async def acknowledge(request: web.Request) -> web.Response:
    await actions.acknowledge(request.config_dict, actor_of(request), _number(request), path_id(request, "note_id"))
    await flash(request, "已签收督办单")
    raise _back(request)


@routes.post("/desk/tickets/{number}/reveal")
@require_role(*HANDLERS)
async def reveal(request: web.Request) -> web.Response:
    """htmx: the masked phone replaced by the full one (audited)."""
    try:
        contact = await actions.reveal(request.config_dict, actor_of(request), _number(request))
        error = None
    except ConsoleError as exc:
        if exc.status == 404:
            raise web.HTTPNotFound(text=exc.message) from None
        contact, error = None, exc.message
    return _fragment(request, "desk/_contact.html", {"contact": contact, "error": error})


@routes.get("/desk/attachments/{attachment_id:\\d+}")
@require_role(*HANDLERS)
async def attachment(request: web.Request) -> web.StreamResponse:
    try:
        att = await actions.attachment(request.config_dict, actor_of(request), path_id(request, "attachment_id"))
    except ConsoleError as exc:
        raise web.HTTPNotFound(text=exc.message) from None
    return await attachment_response(request, request.config_dict[ATTACHMENTS], att)
