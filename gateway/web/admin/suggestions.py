"""Training suggestions (operators' corrections of the bot), reviewed by admins: one review path.

Two pages show them: the NLU administration's bulk review (``/admin/nlu/suggestions``, edit the text
or the intent before accepting) and the console's older list (``/console/admin/suggestions``, one
suggestion at a time), with an API each.  All four call ``ticketing.nlu_workspace.suggestions.
review_suggestions``: accepting a department suggestion adds its text as an example of its intent.
The console's URLs are served by this sub-app (see ``gateway.web.audiences.PREFIXES``): their
audience is the admin, and accepting needs the seeded working copy like every NLU admin action.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

from gateway.infra.resources import SESSIONS
from gateway.web.admin.models import ConsoleSuggestionReview, SuggestionReview
from gateway.web.admin.workspace import admin_api, admin_page
from gateway.web.auth import actor_of, flash
from gateway.web.json_io import json_response
from gateway.web.openapi import tagged
from gateway.web.staff_pages import render
from gateway.web.validation import path_id, read_model
from ticketing.db.models.nlu import TrainingSuggestion
from ticketing.errors import WorkspaceError
from ticketing.nlu_workspace import intents as nlu_workspace_intents
from ticketing.nlu_workspace import suggestions

routes = web.RouteTableDef()

NLU_API = "/api/v1/admin/nlu"
CONSOLE_API = "/api/v1/console/training-suggestions"
FIELD_LABELS = {"department": "承办部门", "region": "区域", "request_type": "诉求类型"}
# The console's one-at-a-time form says what the suggestion becomes; the review path says what to do.
CONSOLE_ACTIONS = {"accepted": "accept", "rejected": "reject"}
for_nlu_admins = tagged("管理员：智能客服训练")
for_console_admins = tagged("坐席台：管理员")


class TrainingSuggestionView(BaseModel):
    id: int
    ticket_id: int
    field: str
    text: str
    predicted: str | None
    chosen: str | None
    confidence: float | None
    model_version: str | None
    operator: str
    status: Literal["new", "accepted", "rejected"]
    created_at: str


class TrainingSuggestions(BaseModel):
    training_suggestions: list[TrainingSuggestionView]


def _status_filter(request: web.Request) -> tuple[str, str | None]:
    status = request.query.get("status", "new")
    return status, None if status == "all" else status


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def console_suggestion_dict(row: TrainingSuggestion) -> dict[str, Any]:
    return {"id": row.id, "ticket_id": row.ticket_id, "field": row.field, "text": row.text,
            "predicted": row.predicted, "chosen": row.chosen, "confidence": row.confidence,
            "model_version": row.model_version, "operator": row.operator, "status": row.status,
            "created_at": row.created_at.isoformat()}


def nlu_suggestion_dict(row: TrainingSuggestion) -> dict[str, Any]:
    return {"id": row.id, "field": row.field, "text": row.text, "predicted": row.predicted, "chosen": row.chosen,
            "intent": suggestions.suggestion_intent(row), "confidence": row.confidence, "operator": row.operator,
            "status": row.status, "created_at": _iso(row.created_at), "model_version": row.model_version}


async def review(request: web.Request, decisions: list[dict[str, Any]]) -> dict[str, int]:
    """The one review path, in one transaction."""
    async with request.config_dict[SESSIONS]() as session, session.begin():
        return await suggestions.review_suggestions(session, decisions, actor=actor_of(request).username)


async def _listed(request: web.Request) -> tuple[str, list[TrainingSuggestion]]:
    status, wanted = _status_filter(request)
    async with request.config_dict[SESSIONS]() as session:
        return status, await suggestions.suggestions(session, status=wanted)


# --------------------------------------------------------------------------- the NLU administration

@routes.get(f"{NLU_API}/suggestions")
@for_nlu_admins("坐席更正形成的训练建议", query={"status": "new | accepted | rejected | all"})
@admin_api
async def list_suggestions(request: web.Request) -> web.Response:
    _, rows = await _listed(request)
    return json_response({"suggestions": [nlu_suggestion_dict(s) for s in rows]})


@routes.post(f"{NLU_API}/suggestions/review")
@for_nlu_admins("批量采纳（可修改文本和意图）或驳回训练建议", body=SuggestionReview)
@admin_api
async def review_suggestions(request: web.Request) -> web.Response:
    body = await read_model(request, SuggestionReview)
    return json_response(await review(request, [d.model_dump(exclude_none=True) for d in body.decisions]))


@routes.get("/admin/nlu/suggestions")
@admin_page
async def suggestions_page(request: web.Request) -> web.Response:
    status, rows = await _listed(request)
    async with request.config_dict[SESSIONS]() as session:
        intents = [i.name for i in await nlu_workspace_intents.intents_overview(session)]
    items = [{"row": s, "intent": suggestions.suggestion_intent(s)} for s in rows]
    return await render(request, "nlu_admin/suggestions.html", {
        "nav": "nlu", "section": "suggestions", "items": items, "status": status, "intents": intents,
        "field_labels": FIELD_LABELS})


# --------------------------------------------------------------------------- the console's list

@routes.get(CONSOLE_API)
@for_console_admins("训练建议（坐席对机器分类的更正）", query={"status": "new（默认）、accepted、rejected、all"},
                    responses={200: ("列表", TrainingSuggestions)})
@admin_api
async def console_list(request: web.Request) -> web.Response:
    _, rows = await _listed(request)
    return json_response({"training_suggestions": [console_suggestion_dict(s) for s in rows]})


async def _review_one(request: web.Request, suggestion_id: int, status: str) -> TrainingSuggestion:
    await review(request, [{"id": suggestion_id, "action": CONSOLE_ACTIONS[status]}])
    async with request.config_dict[SESSIONS]() as session:
        row = await session.get(TrainingSuggestion, suggestion_id)
    assert row is not None  # reviewed just now
    return row


@routes.post(CONSOLE_API + r"/{suggestion_id:\d+}")
@for_console_admins("采纳 / 驳回训练建议（采纳承办部门的建议即把文本加为该意图的例句）", body=ConsoleSuggestionReview,
                    responses={200: "已更新", 404: "没有这条训练建议"})
@admin_api
async def console_review(request: web.Request) -> web.Response:
    body = await read_model(request, ConsoleSuggestionReview)
    row = await _review_one(request, path_id(request, "suggestion_id"), body.status)
    return json_response({"training_suggestion": console_suggestion_dict(row)})


@routes.get("/console/admin/suggestions")
@admin_page
async def console_page(request: web.Request) -> web.Response:
    status, rows = await _listed(request)
    return await render(request, "console/admin_suggestions.html", {"nav": "suggestions", "rows": rows,
                                                                     "status": status})


@routes.post(r"/console/admin/suggestions/{suggestion_id:\d+}")
@admin_page
async def console_page_review(request: web.Request) -> web.Response:
    form = await request.post()
    status = str(form.get("status", ""))
    try:
        if status not in CONSOLE_ACTIONS:
            raise WorkspaceError(400, "invalid_status", "状态只能是 accepted 或 rejected")
        await _review_one(request, path_id(request, "suggestion_id"), status)
    except WorkspaceError as exc:
        await flash(request, exc.message, "error")
    raise web.HTTPSeeOther("/console/admin/suggestions")
