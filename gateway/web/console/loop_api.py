"""The dispatcher's desk (交办督办台): what the platform owes the loop, one list per tab, oldest or
most urgent first, and the same lists as JSON under ``/api/v1/console/loop``.

    已退回        tickets a lead unit sent back, waiting for 改派 or 办结 (with how often it came back)
    答复待审核    units' answers waiting for the platform's review
    延期申请      pending extension requests
    即将超期      open lead dispatches past 80 % of their time
    已超期        open lead dispatches past their deadline
    超时未签收    dispatches (lead or assisting) not signed in time
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.directory import Directory
from gateway.infra.resources import DIRECTORY, SESSIONS
from gateway.web.console import models
from gateway.web.console.api import P, api
from gateway.web.console.forms import LOOP_TABS, loop_query
from gateway.web.json_io import json_response
from gateway.web.openapi import tagged
from gateway.web.present import Labels, iso, local, unit_label
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Dispatch, Ticket
from ticketing.db.models.workflow import ExtensionRequest, UnitReport
from ticketing.tickets.lifecycle import Status, status_label
from ticketing.tickets.masking import mask_contacts_in_text
from ticketing.workflow.timing import DUE_LABELS, due_state, warning_at

routes = web.RouteTableDef()
on_loop = tagged("坐席台：交办督办")

# Who sees the desk: the dispatch-and-supervision seats, supervisors, and operators (read-only
# for what only dispatchers decide).
DESK_ROLES = ("operator", "dispatcher", "supervisor")
TAB_LABELS = {"returned": "已退回", "review": "答复待审核", "extension": "延期申请", "warning": "即将超期",
              "overdue": "已超期", "sign_overdue": "超时未签收"}
OWED = ("pending_sign", "signed")  # the unit still owes the answer


@dataclass(frozen=True)
class DeskPage:
    tab: str
    counts: dict[str, int]
    rows: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


def _open_lead() -> Any:
    return and_(Dispatch.active.is_(True), Dispatch.role == "lead", Dispatch.state.in_(OWED))


def _returns() -> Any:
    return (select(Dispatch.ticket_id, func.count(Dispatch.id).label("n"), func.max(Dispatch.id).label("last"))
            .where(Dispatch.state == "returned", Dispatch.role == "lead").group_by(Dispatch.ticket_id).subquery())


def _returned() -> Select:
    counted = _returns()
    return (select(Ticket, Dispatch, counted.c.n).join(counted, counted.c.ticket_id == Ticket.id)
            .join(Dispatch, Dispatch.id == counted.c.last).where(Ticket.status == Status.RETURNED)
            .order_by(Dispatch.ended_at, Ticket.id))


def _review() -> Select:
    return (select(Ticket, UnitReport).join(UnitReport, UnitReport.ticket_id == Ticket.id)
            .where(Ticket.status == Status.ANSWER_REVIEW, UnitReport.kind == "answer",
                   UnitReport.review_state == "pending")
            .order_by(UnitReport.created_at, UnitReport.id))


def _extension() -> Select:
    return (select(Ticket, ExtensionRequest).join(ExtensionRequest, ExtensionRequest.ticket_id == Ticket.id)
            .where(ExtensionRequest.state == "pending").order_by(ExtensionRequest.requested_at, ExtensionRequest.id))


def _overdue(now: datetime) -> Select:
    return (select(Ticket, Dispatch).join(Dispatch, Dispatch.ticket_id == Ticket.id)
            .where(_open_lead(), Dispatch.deadline < now).order_by(Dispatch.deadline, Dispatch.id))


def _sign_overdue(now: datetime) -> Select:
    return (select(Ticket, Dispatch).join(Dispatch, Dispatch.ticket_id == Ticket.id)
            .where(Dispatch.active.is_(True), Dispatch.state == "pending_sign", Dispatch.sign_deadline < now)
            .order_by(Dispatch.sign_deadline, Dispatch.id))


async def _warning_ids(session: AsyncSession, now: datetime, warn_at: float) -> list[int]:
    """Open lead dispatches past ``warn_at`` of their time, most urgent first.  The share of time
    used is not portable SQL over both backends; the candidates (open, not yet due) are few."""
    stmt = (select(Dispatch.id, Dispatch.at, Dispatch.deadline)
            .where(_open_lead(), Dispatch.deadline >= now).order_by(Dispatch.deadline, Dispatch.id))
    return [row.id for row in await session.execute(stmt) if warning_at(row.at, row.deadline, warn_at) <= now]


async def _count(session: AsyncSession, stmt: Select) -> int:
    return (await session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))).scalar_one()


async def desk_counts(session: AsyncSession, directory: Directory, now: datetime) -> dict[str, int]:
    return {
        "returned": await _count(session, _returned()),
        "review": await _count(session, _review()),
        "extension": await _count(session, _extension()),
        "warning": len(await _warning_ids(session, now, directory.handling.warn_at_fraction)),
        "overdue": await _count(session, _overdue(now)),
        "sign_overdue": await _count(session, _sign_overdue(now)),
    }


def _row(ticket: Ticket, labels: Labels, now: datetime, *, unit: str | None, since: datetime | None,
         started: datetime | None, detail: dict[str, Any]) -> dict[str, Any]:
    due = (due_state(started or ticket.created_at, ticket.deadline, now,
                     warn_at=labels.directory.handling.warn_at_fraction)
           if ticket.status in (Status.DISPATCHED, Status.HANDLING, Status.ANSWER_REVIEW) else "ok")
    return {"number": ticket.number, "title": mask_contacts_in_text(ticket.title) or "", "status": ticket.status,
            "status_label": status_label(ticket.status), "unit": unit, "unit_label": unit_label(labels, unit),
            "due": due, "due_label": DUE_LABELS[due] if due != "ok" else "", "deadline": iso(ticket.deadline),
            "deadline_local": local(ticket.deadline), "since": iso(since), "since_local": local(since),
            "detail": detail}


async def desk_page(session: AsyncSession, labels: Labels, tab: str, *, limit: int, offset: int,
                    now: datetime | None = None) -> DeskPage:
    now = now or utcnow()
    directory = labels.directory
    reasons = {r.code: r.name for r in directory.handling.return_reasons}
    counts = await desk_counts(session, directory, now)
    rows: list[dict[str, Any]] = []
    if tab == "returned":
        for ticket, d, times in await session.execute(_returned().limit(limit).offset(offset)):
            rows.append(_row(ticket, labels, now, unit=d.target, since=d.ended_at, started=d.at, detail={
                "reason": d.return_reason, "reason_label": reasons.get(d.return_reason or "", d.return_reason),
                "text": d.return_text, "returned_by": d.returned_by, "returns": times}))
    elif tab == "review":
        for ticket, r in await session.execute(_review().limit(limit).offset(offset)):
            rows.append(_row(ticket, labels, now, unit=r.unit, since=r.created_at, started=None, detail={
                "report_id": r.id, "author_name": r.author_name, "text": r.text[:200]}))
    elif tab == "extension":
        for ticket, x in await session.execute(_extension().limit(limit).offset(offset)):
            rows.append(_row(ticket, labels, now, unit=x.unit, since=x.requested_at, started=None, detail={
                "request_id": x.id, "reason": x.reason, "requested_deadline": iso(x.requested_deadline),
                "requested_deadline_local": local(x.requested_deadline),
                "previous_deadline_local": local(x.previous_deadline)}))
    elif tab in ("overdue", "sign_overdue"):
        stmt = _overdue(now) if tab == "overdue" else _sign_overdue(now)
        for ticket, d in await session.execute(stmt.limit(limit).offset(offset)):
            rows.append(_row(ticket, labels, now, unit=d.target, since=d.at, started=d.at, detail={
                "role": d.role, "round": d.round, "state": d.state, "deadline_local": local(d.deadline),
                "sign_deadline_local": local(d.sign_deadline)}))
    else:
        ids = (await _warning_ids(session, now, directory.handling.warn_at_fraction))[offset:offset + limit]
        found = {d.id: (t, d) for t, d in await session.execute(
            select(Ticket, Dispatch).join(Dispatch, Dispatch.ticket_id == Ticket.id).where(Dispatch.id.in_(ids)))}
        for ticket, d in (found[i] for i in ids if i in found):
            rows.append(_row(ticket, labels, now, unit=d.target, since=d.at, started=d.at, detail={
                "role": d.role, "round": d.round, "state": d.state, "deadline_local": local(d.deadline),
                "warning_from_local": local(warning_at(d.at, d.deadline, directory.handling.warn_at_fraction))}))
    return DeskPage(tab, counts, rows, counts[tab], limit, offset)


async def desk(config: Any, query: Any) -> DeskPage:
    tab, limit, offset = loop_query(query)
    async with config[SESSIONS]() as session:
        return await desk_page(session, Labels(config[DIRECTORY]), tab, limit=limit, offset=offset)


@routes.get(f"{P}/loop")
@on_loop("交办督办台：已退回、答复待审核、延期申请、即将超期、已超期、超时未签收",
         description="每个栏目按最早 / 最紧急在前排列，分页；counts 给出六个栏目的件数。",
         query={"tab": "、".join(LOOP_TABS) + "（默认 returned）", "limit": "每页条数（≤200）", "offset": "偏移"},
         responses={200: ("栏目列表", models.LoopPage), 400: "栏目或分页参数无效"})
@api(*DESK_ROLES)
async def loop_desk(request: web.Request) -> web.Response:
    page = await desk(request.config_dict, request.query)
    return json_response({"tab": page.tab, "counts": page.counts, "rows": page.rows, "total": page.total,
                          "limit": page.limit, "offset": page.offset})
