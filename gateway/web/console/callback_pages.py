"""The callback seats' pages (回访): the queue, one survey with the call form, the audited
"显示号码", and the supervisors' ruling.  Forms post back and redirect (POST → 303 → GET),
except the reveal, whose answer (the number) is shown once and never stored in the session."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.infra.resources import DIRECTORY
from gateway.web.auth import actor_of, flash, require_role
from gateway.web.console import callback_api
from gateway.web.console.callback_api import CALLBACK_SEATS, PAGE_SIZE
from gateway.web.console.page_actions import page_action
from gateway.web.errors import ApiError
from gateway.web.present import Labels, local
from gateway.web.staff_pages import render
from gateway.web.validation import path_id, query_int
from ticketing.errors import ConsoleError
from ticketing.workflow.callbacks import CallbackRow
from ticketing.workflow.surveys import FAILED_CALLBACKS_FLAG, OUTCOME_LABELS, SATISFACTION_LABELS, SOLVED_LABELS

routes = web.RouteTableDef()
PAGE = "/console/callbacks"
ONE = PAGE + r"/{survey_id:\d+}"


def _labels(request: web.Request) -> dict[str, Any]:
    return {"satisfaction_labels": SATISFACTION_LABELS, "solved_labels": SOLVED_LABELS,
            "outcome_labels": OUTCOME_LABELS, "flag_after": FAILED_CALLBACKS_FLAG}


def _shown(row: CallbackRow, labels: Labels) -> dict[str, Any]:
    survey = row.survey
    return {**callback_api.item(row, labels), "created_local": local(survey.created_at),
            "expires_local": local(survey.expires_at), "last_callback_local": local(survey.last_callback_at),
            "responded_local": local(survey.responded_at)}


@routes.get(PAGE)
@require_role(*CALLBACK_SEATS)
async def queue_page(request: web.Request) -> web.Response:
    actor = actor_of(request)
    view = "redo" if request.query.get("view") == "redo" and actor.supervisor else "due"
    try:
        offset = query_int(request.query, "offset", 0, lowest=0, highest=10**9)
    except ApiError:
        offset = 0
    rows, total = await callback_api.queue(request.config_dict, actor, view=view, offset=offset)
    labels = Labels(request.config_dict[DIRECTORY])
    return await render(request, "console/callbacks.html", {
        "nav": "callbacks", "view": view, "rows": [_shown(r, labels) for r in rows], "total": total,
        "prev_offset": max(0, offset - PAGE_SIZE) if offset > 0 else None,
        "next_offset": offset + PAGE_SIZE if offset + len(rows) < total else None,
        "is_supervisor": actor.supervisor, **_labels(request)})


async def _call_page(request: web.Request, *, phone: dict[str, str | None] | None = None) -> web.Response:
    survey_id = path_id(request, "survey_id")
    try:
        row = await callback_api.one(request.config_dict, survey_id)
    except ConsoleError as exc:
        await flash(request, exc.message, "error")
        raise web.HTTPSeeOther(PAGE) from None
    labels = Labels(request.config_dict[DIRECTORY])
    return await render(request, "console/callbacks_call.html", {
        "nav": "callbacks", "s": _shown(row, labels), "phone": phone,
        "is_supervisor": actor_of(request).supervisor, **_labels(request)})


@routes.get(ONE)
@require_role(*CALLBACK_SEATS)
async def call_page(request: web.Request) -> web.Response:
    return await _call_page(request)


@routes.post(ONE + "/reveal")
@require_role(*CALLBACK_SEATS)
@page_action
async def reveal(request: web.Request) -> web.Response:
    phone = await callback_api.reveal(request.config_dict, actor_of(request), path_id(request, "survey_id"))
    return await _call_page(request, phone=phone)


@routes.post(ONE + "/record")
@require_role(*CALLBACK_SEATS)
@page_action
async def record(request: web.Request) -> web.Response:
    form = await request.post()
    reached = {"yes": True, "no": False}.get(str(form.get("reached", "")))
    survey = await callback_api.record(
        request.config_dict, actor_of(request), path_id(request, "survey_id"), reached=reached,
        solved={"yes": True, "no": False}.get(str(form.get("solved", ""))),
        satisfaction=str(form.get("satisfaction", "")) or None, comment=str(form.get("comment", "")),
        note=str(form.get("note", "")))
    if reached:
        await flash(request, f"已记录回访评价：{OUTCOME_LABELS.get(survey.outcome or '', '已记录')}")
    else:
        await flash(request, f"已记录未联系上（第 {survey.callback_attempts} 次）")
    raise web.HTTPSeeOther(PAGE)


@routes.post(ONE + "/rule")
@require_role("supervisor")
@page_action
async def rule(request: web.Request) -> web.Response:
    form = await request.post()
    await callback_api.rule(request.config_dict, actor_of(request), path_id(request, "survey_id"),
                            str(form.get("reason", "")))
    await flash(request, "已裁定：群众评价不合理，工单办结")
    raise web.HTTPSeeOther(PAGE + "?view=redo")
