"""回访坐席 (callback seats) and supervisors: the queue of answered tickets whose citizen has not
evaluated the answer, the audited number reveal, a phone callback's result, and a supervisor's
ruling that a bad evaluation is unreasonable.  The actions here serve the pages
(:mod:`gateway.web.console.callback_pages`) and the JSON API below alike.

    GET  /api/v1/console/callbacks?view=due|redo       the queue (redo: supervisors)
    POST /api/v1/console/callbacks/{survey_id}/reveal   the citizen's whole number (audited)
    POST /api/v1/console/callbacks/{survey_id}/record   reached → evaluation; not reached → attempt
    POST /api/v1/console/callbacks/{survey_id}/rule     裁定不合理 (supervisors)

Each action is one transaction under the ticket's row lock; live notices and the national
platform's write-back follow the commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from gateway.channels.delivery import report_status_to_platform
from gateway.channels.survey_links import AT_ONCE_CHANNELS, announce_evaluation, report_evaluation_to_platform
from gateway.infra.replies import REPLIES
from gateway.infra.resources import DIRECTORY, SESSIONS
from gateway.web.auth import actor_of
from gateway.web.console import models
from gateway.web.console.api import api
from gateway.web.json_io import json_response
from gateway.web.openapi import tagged
from gateway.web.present import Labels, iso
from gateway.web.validation import path_id, query_int, read_model
from ticketing.accounts.roles import Actor
from ticketing.db.models.tickets import Ticket
from ticketing.db.models.workflow import Survey
from ticketing.errors import ConsoleError
from ticketing.tickets import claims
from ticketing.workflow import callbacks, surveys
from ticketing.workflow.callbacks import CallbackRow

routes = web.RouteTableDef()
P = "/api/v1/console/callbacks"
SURVEY = P + r"/{survey_id:\d+}"
CALLBACK_SEATS = ("callback", "supervisor")
documented = tagged("坐席台：回访")
PAGE_SIZE = 50

Config = Mapping[Any, Any]


# --------------------------------------------------------------------------- presenting

def item(row: CallbackRow, labels: Labels) -> dict[str, Any]:
    survey = row.survey
    unit = labels.directory.unit(survey.unit) if survey.unit else None
    return {
        "survey_id": survey.id, "ticket_no": row.ticket_no, "ticket_status": row.ticket_status,
        "ticket_status_label": labels.of("status", row.ticket_status), "unit": survey.unit,
        "unit_name": unit.name if unit else "—", "channel": survey.channel,
        "channel_label": labels.of("channel", survey.channel), "created_at": iso(survey.created_at),
        "expires_at": iso(survey.expires_at), "answer_excerpt": row.answer_excerpt,
        "citizen_name": row.citizen_name, "phone_masked": row.phone_masked,
        "callback_attempts": survey.callback_attempts or 0, "last_callback_at": iso(survey.last_callback_at),
        "callback_note": survey.callback_note, "unreachable": row.unreachable,
        "responded_at": iso(survey.responded_at), "source": survey.source, "solved": survey.solved,
        "satisfaction": survey.satisfaction, "comment": survey.comment, "outcome": survey.outcome,
    }


# --------------------------------------------------------------------------- actions

async def queue(config: Config, actor: Actor, *, view: str, limit: int = PAGE_SIZE,
                offset: int = 0) -> tuple[list[CallbackRow], int]:
    if view not in ("due", "redo"):
        raise ConsoleError(400, "invalid_view", "view 只能是 due（待回访）或 redo（可裁定）")
    if view == "redo" and not actor.supervisor:
        raise ConsoleError(403, "supervisor_only", "只有班长可以裁定群众评价")
    async with config[SESSIONS]() as session:
        if view == "due":
            page = await callbacks.callback_queue(session, config[DIRECTORY], limit=limit, offset=offset,
                                                  at_once_channels=AT_ONCE_CHANNELS)
        else:
            page = await callbacks.rulings_queue(session, limit=limit, offset=offset)
    return page.rows, page.total


async def one(config: Config, survey_id: int) -> CallbackRow:
    async with config[SESSIONS]() as session:
        return await callbacks.callback_row(session, survey_id)


async def _locked(session, survey_id: int) -> tuple[Survey, Ticket]:
    survey = await session.get(Survey, survey_id)
    if survey is None:
        raise ConsoleError(404, "survey_not_found", "没有这条回访记录")
    ticket = await session.get(Ticket, survey.ticket_id)
    assert ticket is not None
    ticket = await claims.lock_ticket(session, ticket)
    await session.refresh(survey)  # as it is now that concurrent actions on the ticket are done
    return survey, ticket


async def reveal(config: Config, actor: Actor, survey_id: int) -> dict[str, str | None]:
    async with config[SESSIONS]() as session, session.begin():
        survey = await session.get(Survey, survey_id)
        if survey is None:
            raise ConsoleError(404, "survey_not_found", "没有这条回访记录")
        ticket = await session.get(Ticket, survey.ticket_id)
        assert ticket is not None
        return await callbacks.reveal_for_callback(session, survey, ticket, actor)


async def record(config: Config, actor: Actor, survey_id: int, *, reached: object, solved: object = None,
                 satisfaction: object = None, comment: object = None, note: object = None) -> Survey:
    if not isinstance(reached, bool):
        raise ConsoleError(400, "reached_required", "请选择是否联系上群众")
    async with config[SESSIONS]() as session:
        async with session.begin():
            survey, ticket = await _locked(session, survey_id)
            if reached:
                await surveys.respond(session, survey, config[DIRECTORY], solved=solved, satisfaction=satisfaction,
                                      comment=comment, source="callback", recorded_by=actor.username)
            else:
                await surveys.record_failed_callback(session, survey, recorded_by=actor.username, note=note)
        if reached:
            await announce_evaluation(config, ticket, survey, by=actor.username)
            await report_evaluation_to_platform(config, session, ticket, survey)
        else:
            await _announce(config, {"type": "updated", "ticket_no": ticket.number, "by": actor.username,
                                     "what": "callback", "status": ticket.status, "channel": ticket.channel})
    return survey


async def rule(config: Config, actor: Actor, survey_id: int, reason: object) -> Survey:
    if not actor.supervisor:
        raise ConsoleError(403, "supervisor_only", "只有班长可以裁定群众评价")
    async with config[SESSIONS]() as session:
        async with session.begin():
            survey, ticket = await _locked(session, survey_id)
            await surveys.rule_unreasonable(session, survey, ticket, supervisor=actor.username, reason=reason)
        await _announce(config, {"type": "updated", "ticket_no": ticket.number, "by": actor.username,
                                 "what": "ruling", "status": ticket.status, "channel": ticket.channel})
        if survey.unit:
            # The unit's 重办 was withdrawn: its desks drop the ticket.
            await _announce(config, {"type": "ruled", "ticket_no": ticket.number}, unit=survey.unit)
        await report_status_to_platform(config, session, ticket, "closed")
    return survey


async def _announce(config: Config, event: dict[str, Any], *, unit: str | None = None) -> None:
    bus = config[REPLIES]
    try:
        await bus.publish_event(bus.desk_topic(unit) if unit else bus.console_topic, event)
    except Exception:  # noqa: BLE001 - live updates only; the change is committed
        pass


async def _item(config: Config, survey_id: int) -> dict[str, Any]:
    return item(await one(config, survey_id), Labels(config[DIRECTORY]))


# --------------------------------------------------------------------------- JSON API

@routes.get(P)
@documented("回访队列",
            description=f"view=due（默认）：已答复满 directory.handling.callback_after_days 天仍未评价的工单，"
                        f"电话、来信渠道的立即进入，最早的在前；view=redo（仅班长）：群众评价未解决或不满意、"
                        f"仍可裁定的工单。号码已脱敏。每页最多 {PAGE_SIZE * 4} 条。",
            query={"view": "due 或 redo", "limit": "每页条数", "offset": "偏移"},
            responses={200: ("回访队列", models.CallbackQueue), 400: "参数无效"})
@api(*CALLBACK_SEATS)
async def list_callbacks(request: web.Request) -> web.Response:
    view = request.query.get("view", "due")
    limit = query_int(request.query, "limit", PAGE_SIZE, lowest=1, highest=PAGE_SIZE * 4)
    offset = query_int(request.query, "offset", 0, lowest=0, highest=10**9)
    rows, total = await queue(request.config_dict, actor_of(request), view=view, limit=limit, offset=offset)
    labels = Labels(request.config_dict[DIRECTORY])
    return json_response({"view": view, "surveys": [item(r, labels) for r in rows], "total": total,
                          "limit": limit, "offset": offset})


@routes.post(SURVEY + "/reveal")
@documented("显示群众完整号码以便回访（记入审计日志）", responses={200: ("号码", models.CallbackPhone), 404: "无号码"})
@api(*CALLBACK_SEATS)
async def reveal_phone(request: web.Request) -> web.Response:
    found = await reveal(request.config_dict, actor_of(request), path_id(request, "survey_id"))
    return json_response(found)


@routes.post(SURVEY + "/record")
@documented("记录电话回访结果",
            description="reached=true：记录群众评价（来源 callback），已解决且非不满意即办结，否则转回承办单位重办；"
                        "reached=false：回访次数加一，3 次未联系上的标记“多次联系未果”。",
            body=models.CallbackRecord,
            responses={200: ("已记录", models.CallbackResult), 404: "没有这条回访记录", 409: "已经评价过"})
@api(*CALLBACK_SEATS)
async def record_callback(request: web.Request) -> web.Response:
    body = await read_model(request, models.CallbackRecord)
    survey_id = path_id(request, "survey_id")
    await record(request.config_dict, actor_of(request), survey_id, reached=body.reached, solved=body.solved,
                 satisfaction=body.satisfaction, comment=body.comment, note=body.note)
    return json_response({"survey": await _item(request.config_dict, survey_id)})


@routes.post(SURVEY + "/rule")
@documented("裁定群众评价不合理（班长）",
            description="仅限评价为未解决或不满意、已转回重办的工单：工单裁定办结，撤回重办，理由必填并记入工单记录。",
            body=models.Ruling,
            responses={200: ("已裁定", models.CallbackResult), 404: "没有这条回访记录", 409: "不可裁定"})
@api("supervisor")
async def rule_callback(request: web.Request) -> web.Response:
    body = await read_model(request, models.Ruling)
    survey_id = path_id(request, "survey_id")
    await rule(request.config_dict, actor_of(request), survey_id, body.reason)
    return json_response({"survey": await _item(request.config_dict, survey_id)})
