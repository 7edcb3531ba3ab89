"""延期: a unit asks for a later deadline with a reason; a dispatcher or supervisor decides."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.accounts.roles import Actor
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Ticket
from ticketing.db.models.workflow import ExtensionRequest
from ticketing.errors import ConsoleError
from ticketing.inputs import MAX_TEXT
from ticketing.tickets import store
from ticketing.tickets.deadlines import end_of_local_day
from ticketing.workflow.assignments import active_dispatch, unit_dispatch

MAX_EXTENSION_DAYS = 90
STATE_LABELS = {"pending": "待审批", "approved": "已同意", "refused": "未同意"}


async def pending_request(session: AsyncSession, ticket: Ticket) -> ExtensionRequest | None:
    stmt = (select(ExtensionRequest).where(ExtensionRequest.ticket_id == ticket.id,
                                           ExtensionRequest.state == "pending")
            .order_by(ExtensionRequest.id.desc()).limit(1))
    return (await session.execute(stmt)).scalar_one_or_none()


async def request_extension(session: AsyncSession, ticket: Ticket, actor: Actor, *, until: object,
                            reason: object, now: datetime | None = None) -> ExtensionRequest:
    """``until``: the local date the unit asks to finish by (its end is the new deadline)."""
    now = now or utcnow()
    row = await unit_dispatch(session, ticket, actor)
    if row.role != "lead":
        raise ConsoleError(403, "lead_only", "只有主办单位可以申请延期")
    if row.state not in ("pending_sign", "signed"):
        raise ConsoleError(409, "cannot_extend", "答复已提交，无需延期")
    why = reason.strip()[:MAX_TEXT] if isinstance(reason, str) else ""
    if not why:
        raise ConsoleError(400, "reason_required", "请填写延期理由")
    if not isinstance(until, date):
        raise ConsoleError(400, "invalid_date", "请填写延期后的办结日期")
    wanted = end_of_local_day(until)
    if row.deadline is not None and wanted <= row.deadline:
        raise ConsoleError(400, "not_later", "延期后的日期须晚于当前办理时限")
    if (wanted - now).days > MAX_EXTENSION_DAYS:
        raise ConsoleError(400, "too_long", f"一次延期不得超过 {MAX_EXTENSION_DAYS} 天")
    if await pending_request(session, ticket) is not None:
        raise ConsoleError(409, "already_requested", "已有待审批的延期申请")
    request = ExtensionRequest(ticket_id=ticket.id, dispatch_id=row.id, unit=row.target, requested_by=actor.username,
                               requested_at=now, reason=why, previous_deadline=row.deadline,
                               requested_deadline=wanted, state="pending")
    session.add(request)
    await session.flush()
    await store.record_event(session, ticket, actor=actor.username, action="extension_requested",
                             to_value=wanted.isoformat(), detail={"request_id": request.id, "reason": why})
    return request


async def decide(session: AsyncSession, ticket: Ticket, actor: Actor, *, approve: bool, note: object = None,
                 now: datetime | None = None) -> ExtensionRequest:
    now = now or utcnow()
    request = await pending_request(session, ticket)
    if request is None:
        raise ConsoleError(409, "no_request", "该工单没有待审批的延期申请")
    why = note.strip()[:MAX_TEXT] if isinstance(note, str) else ""
    if not approve and not why:
        raise ConsoleError(400, "reason_required", "不同意延期须说明理由")
    row = await active_dispatch(session, ticket)
    if row is None or row.id != request.dispatch_id:
        # The unit returned the ticket or it was re-dispatched meanwhile: the request lapses.
        request.state, request.decided_by, request.decided_at = "refused", actor.username, now
        request.decision_note = "工单已不在该单位办理，申请失效"
        raise ConsoleError(409, "request_lapsed", "工单已不在该单位办理，延期申请已失效")
    request.state = "approved" if approve else "refused"
    request.decided_by, request.decided_at, request.decision_note = actor.username, now, why or None
    if approve:
        await store.record_event(session, ticket, actor=actor.username, action="update", field="deadline",
                                 from_value=ticket.deadline.isoformat() if ticket.deadline else None,
                                 to_value=request.requested_deadline.isoformat(), detail={"reason": "延期"})
        ticket.deadline = row.deadline = request.requested_deadline
        row.extended = True
        row.reminded_at = row.overdue_flagged_at = None  # reminders start again for the new date
    await store.record_event(session, ticket, actor=actor.username,
                             action="extension_approved" if approve else "extension_refused",
                             to_value=request.unit, detail={"request_id": request.id, "note": why or None})
    return request
