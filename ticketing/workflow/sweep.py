"""The deadline sweep: 超时未签收, 即将超期 and 已超期, each flagged once per dispatch.

A scheduled task (``gateway/worker/sweep.py``) calls :func:`sweep` in one transaction and, after
the commit, mails and announces the returned notices.  The flag columns of a dispatch
(``sign_flagged_at``, ``reminded_at``, ``overdue_flagged_at``) are set in that same transaction,
so a sweep repeated at the same or a later time, in this process or another one after a restart,
finds nothing more to say about it.

A 督办单's new deadline becomes the dispatch's deadline with the flags cleared, so it is swept
like any other; an unacknowledged 督办单 as such is not: remembering that it was already reported
would need a flag column :class:`SupervisionNote` does not have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, Select, and_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from config.directory import Directory, Unit
from config.local_time import LOCAL_TZ
from ticketing.db.models.tickets import Dispatch, Ticket
from ticketing.tickets import store
from ticketing.workflow.timing import warning_at

BATCH = 500
ACTOR = "system"
# A unit owes something on these: not yet answered, not returned or withdrawn.
OWING_STATES = ("pending_sign", "signed")

SIGN_OVERDUE = "sign_overdue"
REMINDER = "deadline_reminder"
OVERDUE = "overdue"
# The timeline's words for the sweep's events (and the notices' headline).
KIND_LABELS: dict[str, str] = {SIGN_OVERDUE: "超时未签收", REMINDER: "即将超期", OVERDUE: "已超期"}
# Where a unit's clerk opens the ticket on the handling desk.
DESK_PATH = "/desk/tickets/{number}"
SIGNATURE = "平顶山市12345政务服务便民热线"


@dataclass(frozen=True)
class Notice:
    """What a unit is told about one dispatch: a plain-text mail, and a live desk event."""

    unit: str
    ticket_no: str
    kind: str  # sign_overdue | deadline_reminder | overdue
    subject: str
    body: str


def local_text(moment: datetime) -> str:
    """A moment as a person in the city reads it: 2026年12月3日 18:00."""
    local = moment.astimezone(LOCAL_TZ)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def desk_link(ticket_no: str) -> str:
    return DESK_PATH.format(number=ticket_no)


async def sweep(session: AsyncSession, directory: Directory, *, now: datetime,
                batch: int = BATCH) -> list[Notice]:
    """Flag what is due at ``now`` on every active dispatch a unit still owes something on; the
    notices to send once the caller has committed."""
    fraction = directory.handling.warn_at_fraction
    notices: list[Notice] = []
    # Unit by unit, so every query is a range of ix_dispatches_target_active_state.
    for unit in directory.units:
        after = 0
        while True:
            rows = (await session.execute(_candidates(unit.code, now, after, batch))).all()
            if not rows:
                break
            after = rows[-1].id
            due = [row.id for row in rows if _due(row, now, fraction)]
            if due:
                notices += await _flag(session, unit, due, now, fraction)
            if len(rows) < batch:
                break
    return notices


def _candidates(unit: str, now: datetime, after: int, batch: int) -> Select:
    """Slim rows that may have a rule due: the reminder's moment depends on each row's own span,
    so that rule is decided in Python; the others are narrowed here already."""
    return (
        select(Dispatch.id, Dispatch.state, Dispatch.at, Dispatch.deadline, Dispatch.sign_deadline,
               Dispatch.reminded_at, Dispatch.sign_flagged_at, Dispatch.overdue_flagged_at)
        # ``= true`` rather than ``IS TRUE``: PostgreSQL uses an index only for the former.
        .where(Dispatch.target == unit, Dispatch.active == true(), Dispatch.state.in_(OWING_STATES),
               Dispatch.id > after,
               or_(and_(Dispatch.state == "pending_sign", Dispatch.sign_flagged_at.is_(None),
                        Dispatch.sign_deadline < now),
                   and_(Dispatch.reminded_at.is_(None), Dispatch.deadline.is_not(None)),
                   and_(Dispatch.overdue_flagged_at.is_(None), Dispatch.deadline < now)))
        .order_by(Dispatch.id)
        .limit(batch)
    )


def _sign_due(row: Dispatch | Row, now: datetime) -> bool:
    return (row.state == "pending_sign" and row.sign_flagged_at is None
            and row.sign_deadline is not None and now > row.sign_deadline)


def _overdue(row: Dispatch | Row, now: datetime) -> bool:
    return row.overdue_flagged_at is None and row.deadline is not None and now > row.deadline


def _reminder_due(row: Dispatch | Row, now: datetime, fraction: float) -> bool:
    return (row.reminded_at is None and row.deadline is not None
            and now >= warning_at(row.at, row.deadline, fraction))


def _due(row: Dispatch | Row, now: datetime, fraction: float) -> bool:
    return row.state in OWING_STATES and (_sign_due(row, now) or _overdue(row, now)
                                          or _reminder_due(row, now, fraction))


async def _flag(session: AsyncSession, unit: Unit, ids: Sequence[int], now: datetime,
                fraction: float) -> list[Notice]:
    """Apply the due rules to these dispatches under their tickets' locks, re-checked on fresh
    rows: a unit that signed or answered meanwhile is not flagged for it."""
    ticket_ids = (await session.execute(select(Dispatch.ticket_id).where(Dispatch.id.in_(ids)))).scalars()
    # Tickets in id order, like every sweep, so two sweeps never wait on each other crosswise.
    locking = select(Ticket).where(Ticket.id.in_(set(ticket_ids))).order_by(Ticket.id)
    if session.bind.dialect.name == "postgresql":
        locking = locking.with_for_update()
    tickets = {t.id: t for t in (await session.execute(
        locking.execution_options(populate_existing=True))).scalars()}
    fresh = (await session.execute(select(Dispatch).where(Dispatch.id.in_(ids)).order_by(Dispatch.id)
                                   .execution_options(populate_existing=True))).scalars()
    notices: list[Notice] = []
    for row in fresh:
        if not row.active or row.state not in OWING_STATES:
            continue
        ticket = tickets[row.ticket_id]
        if _sign_due(row, now):
            row.sign_flagged_at = now
            await _event(session, ticket, row, unit, SIGN_OVERDUE, now)
            notices.append(_notice(unit, ticket, row, SIGN_OVERDUE))
        if _overdue(row, now):
            row.overdue_flagged_at = now
            # Past the deadline a "nearly due" reminder would only contradict the overdue notice.
            if row.reminded_at is None:
                row.reminded_at = now
            await _event(session, ticket, row, unit, OVERDUE, now)
            notices.append(_notice(unit, ticket, row, OVERDUE))
        elif _reminder_due(row, now, fraction):
            row.reminded_at = now
            await _event(session, ticket, row, unit, REMINDER, now)
            notices.append(_notice(unit, ticket, row, REMINDER))
    return notices


async def _event(session: AsyncSession, ticket: Ticket, row: Dispatch, unit: Unit, kind: str,
                 now: datetime) -> None:
    event = await store.record_event(
        session, ticket, actor=ACTOR, action=kind, to_value=unit.code,
        detail={"unit_name": unit.name, "dispatch": row.id, "role": row.role, "round": row.round,
                "deadline": _iso(row.deadline), "sign_deadline": _iso(row.sign_deadline)})
    event.at = now  # the sweep's clock, so a frozen one reads consistently on the timeline


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _notice(unit: Unit, ticket: Ticket, row: Dispatch, kind: str) -> Notice:
    number = ticket.number
    part = "（协办）" if row.role == "assist" else ""
    lines = [f"{unit.name}：", ""]
    if kind == SIGN_OVERDUE:
        lines.append(f"工单 {number}{part}于 {local_text(row.at)} 交办贵单位，签收时限 {local_text(row.sign_deadline)} "
                     "已过，至今未签收，已记为超时未签收。请立即登录办理台签收；不属于贵单位职责的，请退回并说明理由。")
    elif kind == REMINDER:
        lines.append(f"工单 {number}{part}的办理时限为 {local_text(row.deadline)}，即将超期。"
                     "请在时限前提交答复；确需延期的，请在时限前通过办理台申请延期。")
        if row.state == "pending_sign":
            lines.append("该工单尚未签收。")
    else:
        lines.append(f"工单 {number}{part}的办理时限 {local_text(row.deadline)} 已过，贵单位尚未答复，"
                     "已记为超期。请尽快办理并答复。")
    lines += ["", f"办理台链接：{desk_link(number)}", "", SIGNATURE]
    return Notice(unit=unit.code, ticket_no=number, kind=kind,
                  subject=f"【{KIND_LABELS[kind]}】工单 {number}", body="\n".join(lines))
