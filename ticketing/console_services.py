"""What the operator console does to tickets: claim, classify, reply bookkeeping, forward...

Like ``ticketing.services``, every function takes an ``AsyncSession`` and plain arguments
(an :class:`Actor` describes the person), appends audit events, and leaves the commit to
the caller.  Errors a person can act on are :class:`ConsoleError` with an HTTP-like status
and a Chinese message; the web layer only translates them.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    and_,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased, mapped_column

from config.directory import Directory
from ticketing import services
from ticketing.accounts import User, audit
from ticketing.deadlines import deadline_for
from ticketing.errors import TicketingError
from ticketing.lifecycle import OPEN_STATUSES, Action, Status
from ticketing.models import Base, BigId, Conversation, Entry, Prediction, Ticket, TicketEvent, utcnow
from ticketing.numbering import NUMBER_RE

SUPERVISOR_ROLES = frozenset({"supervisor"})
CONSOLE_ROLES = frozenset({"operator", "supervisor"})
CLASSIFICATION_FIELDS = ("department", "region", "request_type", "urgent")
NLU_FIELDS = ("department", "region", "request_type")  # what the bot predicts, hence trainable
MANUAL_CHANNELS = ("phone", "letter")
MAX_TEXT = 5000


class ConsoleError(TicketingError):
    """A refused console action; ``status`` is the HTTP status the API answers with."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Actor:
    username: str
    display_name: str
    role: str
    ip: str | None = None

    @classmethod
    def of(cls, user: User, ip: str | None = None) -> Actor:
        return cls(user.username, user.display_name, user.role, ip)

    @property
    def supervisor(self) -> bool:
        return self.role in SUPERVISOR_ROLES


# --------------------------------------------------------------------------- models

class ClassificationChange(Base):
    """One field set by a person (or a bare confirmation, ``field`` NULL).

    ``previous_by`` is whoever owned the classification before: ``bot`` for the prediction,
    a username for a colleague — the supervisor's "corrections by others" count.
    """

    __tablename__ = "classification_changes"
    __table_args__ = (Index("ix_classification_changes_previous_by", "previous_by", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    field: Mapped[str | None] = mapped_column(String(32))
    from_value: Mapped[str | None] = mapped_column(String(64))
    to_value: Mapped[str | None] = mapped_column(String(64))
    predicted_value: Mapped[str | None] = mapped_column(String(64))
    previous_by: Mapped[str | None] = mapped_column(String(100))


class TrainingSuggestion(Base):
    """An operator's correction of the bot: a labelled example for the admins' next training."""

    __tablename__ = "training_suggestions"
    __table_args__ = (Index("ix_training_suggestions_status", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"))
    field: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    predicted: Mapped[str | None] = mapped_column(String(64))
    chosen: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(100))
    operator: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="new")  # new | accepted | rejected
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    reviewed_at: Mapped[datetime | None] = mapped_column()


class CannedReply(Base):
    """A reply template: shared (owner NULL, kept by supervisors) or an operator's own."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    owner: Mapped[str | None] = mapped_column(String(100), index=True)
    title: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Dispatch(Base):
    """A ticket forwarded to a department or a county's remote seat, with its deadline.

    The departments' own workflow (accept, return, answer) is a later issue; this row is
    what it will start from.
    """

    __tablename__ = "dispatches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    target_kind: Mapped[str] = mapped_column(String(16))  # department | region
    target: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    deadline: Mapped[datetime | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# Indexes of the ticket store that only the console needs (created by migration 0002); declared
# here so Alembic's autogenerate sees them without this module editing ``ticketing.models``.
Index("ix_tickets_status_urgent_created", Ticket.status, Ticket.urgent, Ticket.created_at)
Index("ix_tickets_status_assignee", Ticket.status, Ticket.assignee)
Index("ix_ticket_events_action_at", TicketEvent.action, TicketEvent.at)


# --------------------------------------------------------------------------- masking, shift

def mask_phone(phone: str | None) -> str | None:
    """138****2345: enough to recognise a caller, not enough to call them."""
    if not phone:
        return phone
    p = phone.strip()
    if len(p) >= 7:
        return p[:3] + "*" * (len(p) - 7) + p[-4:]
    return "*" * max(0, len(p) - 2) + p[-2:]


def mask_email(email: str | None) -> str | None:
    if not email or "@" not in email:
        return email
    local, _, domain = email.partition("@")
    return (local[:1] + "***@" + domain) if local else "***@" + domain


def mask_openid(openid: str | None) -> str | None:
    if not openid:
        return openid
    return openid[:4] + "…" + openid[-4:] if len(openid) > 10 else "***"


@dataclass(frozen=True)
class ShiftInfo:
    on_duty: bool
    start: str
    end: str
    next_start: datetime | None  # aware UTC, when off duty


def shift_status(directory: Directory, now: datetime | None = None) -> ShiftInfo:
    """Whether the network hotline's long day shift (长白班) is on now (local time)."""
    nh = directory.network_hotline
    tz = ZoneInfo(nh.timezone)
    local = (now or utcnow()).astimezone(tz)
    start = time.fromisoformat(nh.shift_start)
    end = time.fromisoformat(nh.shift_end)
    on = start <= local.time() < end
    next_start = None
    if not on:
        day = local.date() if local.time() < start else local.date() + timedelta(days=1)
        next_start = datetime.combine(day, start, tzinfo=tz).astimezone(ZoneInfo("UTC"))
    return ShiftInfo(on, nh.shift_start, nh.shift_end, next_start)


def arrived_off_hours(directory: Directory, at: datetime) -> bool:
    return not shift_status(directory, at).on_duty


def off_hours_note(directory: Directory, at: datetime | None = None) -> str | None:
    """What the bot can add to its receipt outside the network hotline's shift, else None."""
    shift = shift_status(directory, at)
    if shift.on_duty or shift.next_start is None:
        return None
    when = shift.next_start.astimezone(ZoneInfo(directory.network_hotline.timezone))
    return (f"现在是非工作时间（网络热线人工服务时间 {shift.start}—{shift.end}），"
            f"工作人员将于 {when.month}月{when.day}日 {shift.start} 后依次处理您的诉求。")


# --------------------------------------------------------------------------- the queue

@dataclass(frozen=True)
class QueueFilter:
    status: str | None = None  # None: pending_review (or every status when searching); "all"
    channel: str | None = None
    department: str | None = None
    region: str | None = None
    request_type: str | None = None
    assignee: str | None = None  # a username, "none" (unclaimed)
    urgent: bool | None = None
    q: str | None = None


@dataclass
class QueuePage:
    tickets: list[Ticket]
    total: int | None
    limit: int
    offset: int
    searching: bool


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# A text search looks at the newest matching messages/titles only: enough to find what a
# caller describes, and it keeps a common word from reading every message ever received.
SEARCH_WINDOW = 500


def _like(column, q: str):
    pattern = f"%{_escape_like(q)}%"
    # ILIKE only when case can matter: for Chinese text LIKE is the same and much cheaper.
    if q.lower() != q.upper():
        return column.ilike(pattern, escape="\\")
    return column.like(pattern, escape="\\")


def _exact_condition(q: str):
    """Ticket number or phone number, when ``q`` looks like one (index look-ups); else None."""
    q = q.strip()
    compact = q.replace(" ", "").replace("-", "")
    upper = compact.upper()
    if NUMBER_RE.fullmatch(upper):
        return Ticket.number == upper
    if upper.startswith("PDS") and upper[3:].isdigit():
        return Ticket.number.like(_escape_like(upper) + "%", escape="\\")
    digits = compact.removeprefix("+86")
    if digits.isdigit() and len(digits) >= 7:
        return Ticket.citizen_phone == digits
    return None


async def _text_matches(session: AsyncSession, q: str) -> set[int]:
    """Ids of tickets whose citizen messages (text or subject) contain ``q``, newest first.

    A ticket's title is always taken from its first message's subject or text (pipeline,
    national feed, manual intake), so searching the messages covers titles too.  One bounded
    query instead of ``title LIKE … OR EXISTS(…)``, which PostgreSQL can only answer by
    scanning both tables in full.
    """
    q = q.strip()
    in_messages = (select(Entry.ticket_id)
                   .where(Entry.ticket_id.is_not(None), Entry.author == "citizen",
                          or_(_like(Entry.text, q), _like(Entry.subject, q)))
                   .order_by(Entry.id.desc()).limit(SEARCH_WINDOW))
    return set((await session.execute(in_messages)).scalars())


def _filtered(stmt, flt: QueueFilter, searching: bool):
    status = flt.status
    if status in (None, ""):
        if not searching:
            stmt = stmt.where(Ticket.status == Status.PENDING_REVIEW.value)
    elif status == "open":
        stmt = stmt.where(Ticket.status.in_([s.value for s in OPEN_STATUSES]))
    elif status != "all":
        stmt = stmt.where(Ticket.status == status)
    for col, value in ((Ticket.channel, flt.channel), (Ticket.department, flt.department),
                       (Ticket.region, flt.region), (Ticket.request_type, flt.request_type)):
        if value:
            stmt = stmt.where(col == value)
    if flt.assignee == "none":
        stmt = stmt.where(Ticket.assignee.is_(None))
    elif flt.assignee:
        stmt = stmt.where(Ticket.assignee == flt.assignee)
    if flt.urgent is not None:
        stmt = stmt.where(Ticket.urgent.is_(flt.urgent))
    return stmt


async def queue(session: AsyncSession, flt: QueueFilter, *, limit: int = 50, offset: int = 0,
                count: bool = True) -> QueuePage:
    """Urgent tickets first (newest first: an emergency just reported is the one to act on),
    then the rest by waiting time (oldest first).  A search lists matches newest first.

    The two halves are two index-friendly queries (status, urgent, created_at) instead of one
    ORDER BY over a CASE expression, which PostgreSQL could only sort after reading everything.
    """
    limit = max(1, min(limit, 200))
    offset = max(0, offset)
    searching = bool(flt.q and flt.q.strip())
    base = _filtered(select(Ticket), flt, searching)
    if searching:
        exact = _exact_condition(flt.q or "")
        if exact is not None:
            base = base.where(exact)
        else:
            ids = await _text_matches(session, flt.q or "")
            if not ids:
                return QueuePage([], 0, limit, offset, True)
            base = base.where(Ticket.id.in_(sorted(ids)))
        rows = (await session.execute(base.order_by(Ticket.created_at.desc(), Ticket.id.desc())
                                      .limit(limit).offset(offset))).scalars()
        return QueuePage(list(rows), None, limit, offset, True)

    total, urgent_count = (await session.execute(_filtered(
        select(func.count(), func.coalesce(func.sum(case((Ticket.urgent.is_(True), 1), else_=0)), 0))
        .select_from(Ticket), flt, False))).one()
    total, urgent_count = int(total), int(urgent_count)
    tickets: list[Ticket] = []
    if offset < urgent_count:
        stmt = base.where(Ticket.urgent.is_(True)).order_by(Ticket.created_at.desc(), Ticket.id.desc())
        tickets += (await session.execute(stmt.limit(limit).offset(offset))).scalars()
    rest = limit - len(tickets)
    if rest > 0 and flt.urgent is not True:
        stmt = base.where(Ticket.urgent.is_(False)).order_by(Ticket.created_at, Ticket.id)
        tickets += (await session.execute(stmt.limit(rest).offset(max(0, offset - urgent_count)))).scalars()
    return QueuePage(tickets, total if count else None, limit, offset, False)


async def get_ticket(session: AsyncSession, number: str, *, full: bool = False) -> Ticket:
    ticket = await services.ticket_by_number(session, (number or "").strip().upper(), full=full)
    if ticket is None:
        raise ConsoleError(404, "ticket_not_found", f"未找到工单 {number}")
    return ticket


async def lock_ticket(session: AsyncSession, ticket: Ticket) -> Ticket:
    """Re-read the ticket under a row lock (PostgreSQL) so concurrent actions serialise."""
    stmt = select(Ticket).where(Ticket.id == ticket.id).execution_options(populate_existing=True)
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one()


# --------------------------------------------------------------------------- claiming

async def claim(session: AsyncSession, ticket: Ticket, actor: Actor) -> Ticket:
    """Take a ticket.  One conditional UPDATE: of two operators racing, exactly one wins."""
    if ticket.assignee == actor.username:
        return ticket
    if ticket.status not in {s.value for s in OPEN_STATUSES}:
        raise ConsoleError(409, "not_claimable", "该工单已办结或已合并，不能认领")
    now = utcnow()
    result = await session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.assignee.is_(None))
        .values(assignee=actor.username, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        await session.refresh(ticket, ["assignee"])
        if ticket.assignee == actor.username:
            return ticket
        raise ConsoleError(409, "already_claimed", f"该工单已由 {ticket.assignee} 认领")
    await session.refresh(ticket, ["assignee", "updated_at"])
    await services.record_event(session, ticket, actor=actor.username, action="claim", field="assignee",
                                to_value=actor.username)
    return ticket


async def release(session: AsyncSession, ticket: Ticket, actor: Actor) -> Ticket:
    if ticket.assignee is None:
        return ticket
    if ticket.assignee != actor.username and not actor.supervisor:
        raise ConsoleError(403, "not_assignee", "只能释放自己认领的工单")
    before = ticket.assignee
    ticket.assignee = None
    ticket.updated_at = utcnow()
    await services.record_event(session, ticket, actor=actor.username, action="release", field="assignee",
                                from_value=before)
    return ticket


async def assign(session: AsyncSession, ticket: Ticket, actor: Actor, to_username: str | None) -> Ticket:
    """A supervisor gives a ticket to an operator (or back to the queue with None)."""
    if not actor.supervisor:
        raise ConsoleError(403, "supervisor_only", "只有班长可以改派工单")
    if to_username:
        user = (await session.execute(select(User).where(User.username == to_username))).scalar_one_or_none()
        if user is None or not user.active or user.role not in CONSOLE_ROLES:
            raise ConsoleError(400, "unknown_operator", f"没有可接收工单的坐席 {to_username}")
    before = ticket.assignee
    if before == (to_username or None):
        return ticket
    ticket.assignee = to_username or None
    ticket.updated_at = utcnow()
    await services.record_event(session, ticket, actor=actor.username, action="assign", field="assignee",
                                from_value=before, to_value=to_username or None)
    await audit(session, actor=actor.username, action="reassign", ticket_id=ticket.id, target=ticket.number,
                ip=actor.ip, detail={"from": before, "to": to_username or None})
    return ticket


async def ensure_handler(session: AsyncSession, ticket: Ticket, actor: Actor) -> Ticket:
    """The actor may work on the ticket: theirs, free (claimed now, atomically), or a
    supervisor stepping in (written to the audit log)."""
    if ticket.assignee == actor.username:
        return ticket
    if ticket.assignee is None and ticket.status in {s.value for s in OPEN_STATUSES}:
        return await claim(session, ticket, actor)
    if actor.supervisor:
        await audit(session, actor=actor.username, action="override", ticket_id=ticket.id, target=ticket.number,
                    ip=actor.ip, detail={"assignee": ticket.assignee})
        return ticket
    if ticket.assignee is None:
        raise ConsoleError(409, "not_claimed", "请先认领该工单")
    raise ConsoleError(409, "claimed_by_other", f"该工单正由 {ticket.assignee} 处理")


def may_reveal(ticket: Ticket, actor: Actor) -> bool:
    return actor.supervisor or (ticket.assignee is not None and ticket.assignee == actor.username)


async def reveal_contact(session: AsyncSession, ticket: Ticket, actor: Actor) -> dict[str, str | None]:
    """Full contact details, for the handling operator and supervisors; always audited."""
    if not may_reveal(ticket, actor):
        raise ConsoleError(403, "reveal_forbidden", "只有正在处理该工单的坐席或班长可以查看完整联系方式")
    await audit(session, actor=actor.username, action="reveal_contact", ticket_id=ticket.id, target=ticket.number,
                ip=actor.ip, detail={"fields": [f for f in ("phone", "email", "wechat_openid")
                                                if getattr(ticket, f"citizen_{f}")]})
    return {"name": ticket.citizen_name, "phone": ticket.citizen_phone, "email": ticket.citizen_email,
            "wechat_openid": ticket.citizen_wechat_openid}


async def auto_assign(session: AsyncSession, ticket_id: int, *, now: datetime | None = None) -> str | None:
    """Round-robin: the on-shift operator assigned longest ago takes an unclaimed ticket.

    Safe to run in every gateway process at once: the conditional UPDATE lets one win.
    """
    now = now or utcnow()
    stmt = (
        select(User)
        .where(User.active.is_(True), User.on_shift.is_(True), User.role == "operator")
        .order_by(User.last_assigned_at.is_not(None), User.last_assigned_at, User.id)
        .limit(1)
    )
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    user = (await session.execute(stmt)).scalar_one_or_none()
    if user is None:
        return None
    result = await session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.assignee.is_(None), Ticket.status == Status.PENDING_REVIEW.value)
        .values(assignee=user.username, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    user.last_assigned_at = now
    ticket = await session.get(Ticket, ticket_id)
    await session.refresh(ticket, ["assignee"])
    await services.record_event(session, ticket, actor="system", action="auto_assign", field="assignee",
                                to_value=user.username)
    return user.username


# --------------------------------------------------------------------------- classification

async def latest_prediction(session: AsyncSession, ticket: Ticket) -> Prediction | None:
    stmt = select(Prediction).where(Prediction.ticket_id == ticket.id).order_by(Prediction.id.desc()).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


async def _classification_owner(session: AsyncSession, ticket: Ticket, prediction: Prediction | None) -> str | None:
    stmt = (select(ClassificationChange.actor).where(ClassificationChange.ticket_id == ticket.id)
            .order_by(ClassificationChange.id.desc()).limit(1))
    owner = (await session.execute(stmt)).scalar_one_or_none()
    if owner:
        return owner
    return "bot" if prediction is not None or ticket.classification == "predicted" else None


def _validate_code(directory: Directory, field_name: str, value: Any) -> Any:
    if field_name == "urgent":
        return bool(value)
    if value in (None, ""):
        return None
    codes = {"department": directory.department_codes, "region": directory.region_codes,
             "request_type": directory.request_type_codes}[field_name]
    if value not in codes:
        labels = {"department": "承办部门", "region": "区域", "request_type": "诉求类型"}
        raise ConsoleError(400, f"invalid_{field_name}", f"{labels[field_name]}代码 {value!r} 不存在")
    return value


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def _source_text(session: AsyncSession, ticket: Ticket, prediction: Prediction | None) -> tuple[str, int | None]:
    if prediction is not None and prediction.entry_id:
        entry = await session.get(Entry, prediction.entry_id)
        if entry is not None:
            return entry.text, entry.id
    stmt = (select(Entry).where(Entry.ticket_id == ticket.id, Entry.author == "citizen")
            .order_by(Entry.id).limit(1))
    entry = (await session.execute(stmt)).scalar_one_or_none()
    return (entry.text, entry.id) if entry else (ticket.title or "", None)


async def set_classification(
    session: AsyncSession,
    ticket: Ticket,
    actor: Actor,
    directory: Directory,
    *,
    values: dict[str, Any],
) -> list[ClassificationChange]:
    """Confirm (no change) or correct the ticket's classification.

    Records who changed what (events + classification_changes) and turns each difference
    from the bot's prediction into a training suggestion.  A changed request type or urgency
    moves the deadline unless the national platform fixed it.
    """
    unknown = set(values) - set(CLASSIFICATION_FIELDS)
    if unknown:
        raise ConsoleError(400, "unknown_field", f"不能修改字段：{', '.join(sorted(unknown))}")
    clean = {k: _validate_code(directory, k, v) for k, v in values.items()}
    prediction = await latest_prediction(session, ticket)
    owner = await _classification_owner(session, ticket, prediction)
    now = utcnow()
    changes: list[ClassificationChange] = []
    for name in CLASSIFICATION_FIELDS:
        if name not in clean or clean[name] == getattr(ticket, name):
            continue
        before = getattr(ticket, name)
        predicted = getattr(prediction, name, None) if prediction is not None and name != "urgent" else None
        change = ClassificationChange(ticket_id=ticket.id, at=now, actor=actor.username, field=name,
                                      from_value=_str(before), to_value=_str(clean[name]),
                                      predicted_value=_str(predicted), previous_by=owner)
        session.add(change)
        changes.append(change)
        setattr(ticket, name, clean[name])
        await services.record_event(session, ticket, actor=actor.username, action="classify", field=name,
                                    from_value=_str(before), to_value=_str(clean[name]),
                                    detail={"previous_by": owner, "predicted": _str(predicted)})
    if not changes:
        session.add(ClassificationChange(ticket_id=ticket.id, at=now, actor=actor.username, field=None,
                                         previous_by=owner))
        await services.record_event(session, ticket, actor=actor.username, action="confirm_classification",
                                    detail={"previous_by": owner})
    if ticket.classification != "confirmed":
        await services.record_event(session, ticket, actor=actor.username, action="classify",
                                    field="classification", from_value=ticket.classification, to_value="confirmed")
        ticket.classification = "confirmed"
    if any(c.field in ("request_type", "urgent") for c in changes) and ticket.external_deadline is None:
        new_deadline = deadline_for(directory, ticket.request_type, ticket.created_at, urgent=ticket.urgent)
        if new_deadline != ticket.deadline:
            await services.record_event(session, ticket, actor=actor.username, action="update", field="deadline",
                                        from_value=ticket.deadline.isoformat() if ticket.deadline else None,
                                        to_value=new_deadline.isoformat() if new_deadline else None)
            ticket.deadline = new_deadline
    ticket.updated_at = now
    if prediction is not None:
        await _suggest(session, ticket, actor, prediction, [c.field for c in changes if c.field in NLU_FIELDS])
    return changes


async def _suggest(session: AsyncSession, ticket: Ticket, actor: Actor, prediction: Prediction,
                   fields: Sequence[str]) -> None:
    if not fields:
        return
    text, entry_id = await _source_text(session, ticket, prediction)
    for name in fields:
        chosen = getattr(ticket, name)
        predicted = getattr(prediction, name)
        stmt = select(TrainingSuggestion).where(TrainingSuggestion.ticket_id == ticket.id,
                                                TrainingSuggestion.field == name,
                                                TrainingSuggestion.status == "new")
        open_row = (await session.execute(stmt)).scalar_one_or_none()
        if chosen == predicted:
            # Changed back to what the bot said: the bot was right after all.
            if open_row is not None:
                await session.delete(open_row)
            continue
        if open_row is not None:
            open_row.chosen, open_row.operator, open_row.created_at = chosen, actor.username, utcnow()
            continue
        session.add(TrainingSuggestion(
            ticket_id=ticket.id, entry_id=entry_id, field=name, text=text, predicted=predicted, chosen=chosen,
            confidence=prediction.confidence, model_version=prediction.model_version, operator=actor.username,
            status="new", created_at=utcnow(),
        ))


async def training_suggestions(session: AsyncSession, *, status: str | None = "new", limit: int = 200,
                               offset: int = 0) -> list[TrainingSuggestion]:
    stmt = select(TrainingSuggestion).order_by(TrainingSuggestion.id.desc()).limit(limit).offset(offset)
    if status:
        stmt = stmt.where(TrainingSuggestion.status == status)
    return list((await session.execute(stmt)).scalars())


async def review_suggestion(session: AsyncSession, suggestion_id: int, actor: Actor, status: str) -> TrainingSuggestion:
    if status not in ("accepted", "rejected", "new"):
        raise ConsoleError(400, "invalid_status", "状态只能是 accepted、rejected 或 new")
    row = await session.get(TrainingSuggestion, suggestion_id)
    if row is None:
        raise ConsoleError(404, "not_found", "没有这条训练建议")
    row.status, row.reviewed_by, row.reviewed_at = status, actor.username, utcnow()
    return row


# --------------------------------------------------------------------------- notes, replies

def _clean_text(text: Any, what: str = "内容") -> str:
    if not isinstance(text, str) or not text.strip():
        raise ConsoleError(400, "empty_text", f"{what}不能为空")
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise ConsoleError(413, "text_too_long", f"{what}不能超过 {MAX_TEXT} 个字")
    return text


async def _conversation_for(session: AsyncSession, ticket: Ticket) -> Conversation:
    if ticket.conversation_id is not None:
        conv = await session.get(Conversation, ticket.conversation_id)
        if conv is not None:
            return conv
    # A ticket without a conversation (should not happen; kept robust): give it one.
    conv = await services.lock_conversation(session, ticket.channel, f"ticket:{ticket.number}", utcnow())
    ticket.conversation_id = conv.id
    return conv


async def add_note(session: AsyncSession, ticket: Ticket, actor: Actor, text: Any) -> Entry:
    """An internal note: colleagues see it, the citizen never does."""
    text = _clean_text(text, "备注")
    conv = await _conversation_for(session, ticket)
    entry = await services.add_entry(session, conversation=conv, ticket=ticket, author="operator",
                                     author_name=actor.display_name, channel=ticket.channel, text=text,
                                     public=False, meta={"operator": actor.username, "kind": "note"})
    await services.record_event(session, ticket, actor=actor.username, action="note",
                                detail={"entry_id": entry.id})
    return entry


async def start_reply(session: AsyncSession, ticket: Ticket, actor: Actor, text: Any) -> tuple[Entry, Conversation]:
    """Store an operator's reply as ``pending`` before anything is sent, so a crash while
    sending leaves a visible "not sent" entry instead of a message nobody knows about."""
    if ticket.status == Status.MERGED:
        raise ConsoleError(409, "merged", "该工单已合并，请在合并后的工单中答复")
    text = _clean_text(text, "答复内容")
    conv = await _conversation_for(session, ticket)
    entry = await services.add_entry(session, conversation=conv, ticket=ticket, author="operator",
                                     author_name=actor.display_name, channel=ticket.channel, text=text,
                                     public=True, delivery_status="pending",
                                     meta={"operator": actor.username, "kind": "reply"})
    await services.record_event(session, ticket, actor=actor.username, action="reply",
                                detail={"entry_id": entry.id})
    ticket.updated_at = utcnow()
    return entry, conv


async def reply_thread(session: AsyncSession, ticket: Ticket) -> tuple[str | None, str | None]:
    """(thread key, subject) for a reply: the citizen's latest message of this ticket."""
    stmt = (select(Entry).where(Entry.ticket_id == ticket.id, Entry.author == "citizen")
            .order_by(Entry.id.desc()).limit(1))
    last = (await session.execute(stmt)).scalar_one_or_none()
    if last is None:
        return None, ticket.title
    return last.channel_message_id, last.subject or ticket.title


async def bot_answer_to(session: AsyncSession, channel: str, native_id: str) -> Entry | None:
    """The bot's entry answering the citizen message ``(channel, native_id)``, if any."""
    citizen = (await session.execute(select(Entry).where(
        Entry.channel == channel, Entry.channel_message_id == native_id))).scalar_one_or_none()
    if citizen is None:
        return None
    stmt = (select(Entry).where(Entry.conversation_id == citizen.conversation_id, Entry.author == "bot",
                                Entry.id > citizen.id).order_by(Entry.id).limit(5))
    for entry in (await session.execute(stmt)).scalars():
        if (entry.meta or {}).get("in_reply_to") == native_id:
            return entry
    return None


async def latest_public_reply(session: AsyncSession, ticket: Ticket) -> str | None:
    """The text of the operators' latest public answer on this ticket, if any."""
    stmt = (select(Entry.text).where(Entry.ticket_id == ticket.id, Entry.author == "operator", Entry.public.is_(True))
            .order_by(Entry.id.desc()).limit(1))
    return (await session.execute(stmt)).scalar_one_or_none()


# --------------------------------------------------------------------------- lifecycle actions

async def answer(session: AsyncSession, ticket: Ticket, actor: Actor, note: str | None = None) -> Ticket:
    """直接办结: the operator answered the citizen directly (status ``answered``)."""
    return await services.transition(session, ticket, Action.ANSWER, actor=actor.username, note=note)


async def close(session: AsyncSession, ticket: Ticket, actor: Actor, note: str | None = None) -> Ticket:
    return await services.transition(session, ticket, Action.CLOSE, actor=actor.username, note=note)


async def reopen(session: AsyncSession, ticket: Ticket, actor: Actor, reason: str | None = None) -> Ticket:
    """Back to review; the ticket returns to the shared queue (anyone may take it)."""
    await services.transition(session, ticket, Action.REOPEN, actor=actor.username, note=reason)
    if ticket.assignee is not None:
        await services.record_event(session, ticket, actor=actor.username, action="release", field="assignee",
                                    from_value=ticket.assignee)
        ticket.assignee = None
    for row in (await session.execute(select(Dispatch).where(Dispatch.ticket_id == ticket.id,
                                                             Dispatch.active.is_(True)))).scalars():
        row.active = False
    return ticket


async def merge(session: AsyncSession, source: Ticket, target: Ticket, actor: Actor) -> Ticket:
    """Fold a duplicate into another ticket: the duplicate becomes ``merged`` and points there."""
    if source.id == target.id:
        raise ConsoleError(400, "same_ticket", "不能把工单合并到它自己")
    if target.status == Status.MERGED:
        raise ConsoleError(409, "target_merged", f"目标工单 {target.number} 本身已被合并，请合并到最终工单")
    await services.transition(session, source, Action.MERGE, actor=actor.username, note=f"合并到 {target.number}")
    await services.record_event(session, source, actor=actor.username, action="merged_into",
                                to_value=target.number, public=True)
    await services.record_event(session, target, actor=actor.username, action="merged_from",
                                from_value=source.number)
    conv = await _conversation_for(session, target)
    await services.add_entry(session, conversation=conv, ticket=target, author="system", channel=target.channel,
                             text=f"工单 {source.number} 已作为重复件合并到本工单（{actor.display_name}）。",
                             public=False, meta={"merged_from": source.number})
    if target.urgent is False and source.urgent:
        await services.update_fields(session, target, actor=actor.username, urgent=True)
    return source


@dataclass(frozen=True)
class DispatchTarget:
    kind: str  # department | region
    code: str
    name: str


def dispatch_targets(directory: Directory) -> list[DispatchTarget]:
    out = [DispatchTarget("department", d.code, d.name) for d in directory.departments]
    out += [DispatchTarget("region", r.code, f"{r.name}12345远端坐席") for r in directory.regions
            if r.role == "remote_seat"]
    return out


async def dispatch(
    session: AsyncSession,
    ticket: Ticket,
    actor: Actor,
    directory: Directory,
    *,
    target_kind: str,
    target: str,
    note: str | None = None,
    now: datetime | None = None,
) -> Dispatch:
    """Forward to a department or a county's remote seat, with a deadline from the request type."""
    now = now or utcnow()
    valid = {(t.kind, t.code) for t in dispatch_targets(directory)}
    if (target_kind, target) not in valid:
        raise ConsoleError(400, "invalid_target", "转办对象必须是承办部门或县（市、区）远端坐席")
    if not ticket.request_type:
        raise ConsoleError(400, "request_type_required", "请先确认诉求类型，才能计算办理时限")
    # Forwarding is also a classification: the target becomes the confirmed department/region.
    values = {"department": target} if target_kind == "department" else {"region": target}
    await set_classification(session, ticket, actor, directory, values=values)
    await services.transition(session, ticket, Action.DISPATCH, actor=actor.username, note=note)
    deadline = ticket.external_deadline or deadline_for(directory, ticket.request_type, now, urgent=ticket.urgent)
    if deadline != ticket.deadline:
        await services.record_event(session, ticket, actor=actor.username, action="update", field="deadline",
                                    from_value=ticket.deadline.isoformat() if ticket.deadline else None,
                                    to_value=deadline.isoformat() if deadline else None)
        ticket.deadline = deadline
    row = Dispatch(ticket_id=ticket.id, target_kind=target_kind, target=target, at=now, actor=actor.username,
                   deadline=deadline, note=(note or "").strip()[:MAX_TEXT] or None, active=True, meta={})
    session.add(row)
    await services.record_event(session, ticket, actor=actor.username, action="forward",
                                to_value=target, public=False,
                                detail={"target_kind": target_kind,
                                        "deadline": deadline.isoformat() if deadline else None})
    if note and note.strip():
        await add_note(session, ticket, actor, f"转办说明：{note.strip()}")
    return row


async def active_dispatch(session: AsyncSession, ticket: Ticket) -> Dispatch | None:
    stmt = (select(Dispatch).where(Dispatch.ticket_id == ticket.id, Dispatch.active.is_(True))
            .order_by(Dispatch.id.desc()).limit(1))
    return (await session.execute(stmt)).scalar_one_or_none()


# --------------------------------------------------------------------------- manual intake

@dataclass(frozen=True)
class ManualIntake:
    channel: str  # phone | letter
    text: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    title: str | None = None
    department: str | None = None
    region: str | None = None
    request_type: str | None = None
    urgent: bool = False
    attachments: tuple[services.AttachmentInfo, ...] = ()
    # What the NLU said while the operator typed (kept as the bot's prediction).
    prediction: dict[str, Any] | None = None


async def manual_intake(session: AsyncSession, actor: Actor, directory: Directory, data: ManualIntake,
                        *, now: datetime | None = None) -> Ticket:
    """A ticket from a phone call or a letter, entered and owned by the operator."""
    now = now or utcnow()
    if data.channel not in MANUAL_CHANNELS:
        raise ConsoleError(400, "invalid_channel", "人工录入的渠道只能是电话（phone）或来信（letter）")
    text = _clean_text(data.text, "诉求内容")
    values = {k: _validate_code(directory, k, getattr(data, k)) for k in ("department", "region", "request_type")}
    # Same caller on the same channel → same conversation, like every other channel.
    sender = (f"{data.channel}:{data.phone}" if data.phone
              else f"{data.channel}:anon:{now.timestamp():.6f}:{actor.username}")
    conv = await services.lock_conversation(session, data.channel, sender, now)
    classified = any(values.values())
    ticket = await services.create_ticket(
        session, conversation=conv, channel=data.channel, actor=actor.username,
        title=(data.title or text.splitlines()[0])[:40],
        contact=services.ContactInfo(name=data.name, phone=data.phone, email=data.email),
        request_type=values["request_type"], department=values["department"], region=values["region"],
        urgent=bool(data.urgent), classification="confirmed" if classified else "unclassified",
        deadline=deadline_for(directory, values["request_type"], now, urgent=bool(data.urgent)), at=now,
    )
    ticket.assignee = actor.username
    await services.record_event(session, ticket, actor=actor.username, action="claim", field="assignee",
                                to_value=actor.username)
    entry = await services.add_entry(
        session, conversation=conv, ticket=ticket, author="citizen", channel=data.channel, text=text,
        subject=data.title, meta={"entered_by": actor.username}, attachments=data.attachments, at=now,
    )
    pred = data.prediction or {}
    prediction = None
    if any(pred.get(k) for k in NLU_FIELDS):
        intent = pred.get("intent") or {}
        prediction = await services.add_prediction(
            session, ticket, entry=entry,
            department=pred.get("department") if pred.get("department") in directory.department_codes else None,
            region=pred.get("region") if pred.get("region") in directory.region_codes else None,
            request_type=pred.get("request_type") if pred.get("request_type") in directory.request_type_codes else None,
            intent=intent.get("name") if isinstance(intent, dict) else None,
            confidence=intent.get("confidence") if isinstance(intent, dict) else None,
            alternatives=[a for a in pred.get("department_alternatives") or [] if isinstance(a, dict)][:3],
            model_version=pred.get("model"),
        )
    if classified:
        session.add(ClassificationChange(ticket_id=ticket.id, at=now, actor=actor.username, field=None,
                                         previous_by="bot" if prediction else None))
        if prediction is not None:
            await session.flush()
            await _suggest(session, ticket, actor, prediction,
                           [k for k in NLU_FIELDS if values[k] != getattr(prediction, k)])
    return ticket


# --------------------------------------------------------------------------- canned replies

async def canned_replies(session: AsyncSession, actor: Actor) -> list[CannedReply]:
    stmt = (select(CannedReply).where(or_(CannedReply.owner.is_(None), CannedReply.owner == actor.username))
            .order_by(CannedReply.owner.is_not(None), CannedReply.title))
    return list((await session.execute(stmt)).scalars())


async def add_canned_reply(session: AsyncSession, actor: Actor, title: Any, text: Any, *,
                           shared: bool = False) -> CannedReply:
    if shared and not actor.supervisor:
        raise ConsoleError(403, "supervisor_only", "只有班长可以维护公共常用语")
    title = _clean_text(title, "标题")[:100]
    text = _clean_text(text, "常用语内容")
    row = CannedReply(owner=None if shared else actor.username, title=title, text=text, created_at=utcnow())
    session.add(row)
    await session.flush()
    return row


async def delete_canned_reply(session: AsyncSession, actor: Actor, reply_id: int) -> None:
    row = await session.get(CannedReply, reply_id)
    if row is None or (row.owner not in (None, actor.username)):
        raise ConsoleError(404, "not_found", "没有这条常用语")
    if row.owner is None and not actor.supervisor:
        raise ConsoleError(403, "supervisor_only", "只有班长可以删除公共常用语")
    await session.execute(delete(CannedReply).where(CannedReply.id == reply_id))


# --------------------------------------------------------------------------- supervisor figures

@dataclass
class OperatorStats:
    username: str
    display_name: str
    role: str
    on_shift: bool
    handled: int = 0
    replies: int = 0
    first_reply_seconds: list[float] = field(default_factory=list)
    corrected_by_others: int = 0
    corrections_made: int = 0
    reopened: int = 0
    open_assigned: int = 0

    @property
    def median_first_reply_seconds(self) -> float | None:
        return statistics.median(self.first_reply_seconds) if self.first_reply_seconds else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "username": self.username, "display_name": self.display_name, "role": self.role,
            "on_shift": self.on_shift, "handled": self.handled, "replies": self.replies,
            "median_first_reply_seconds": self.median_first_reply_seconds,
            "corrected_by_others": self.corrected_by_others, "corrections_made": self.corrections_made,
            "reopened": self.reopened, "open_assigned": self.open_assigned,
        }


HANDLING_ACTIONS = (Action.ANSWER.value, Action.DISPATCH.value, Action.MERGE.value)


async def operator_stats(session: AsyncSession, *, since: datetime,
                         until: datetime | None = None) -> list[OperatorStats]:
    """Per operator, over [since, until): tickets handled, median time to the first reply,
    corrections others made to their classifications, their tickets reopened afterwards.

    These back the seed's rule that staff with many errors are reported to their unit.
    """
    until = until or utcnow()
    users = list((await session.execute(
        select(User).where(User.role.in_(tuple(CONSOLE_ROLES))).order_by(User.username))).scalars())
    stats = {u.username: OperatorStats(u.username, u.display_name, u.role, u.on_shift) for u in users}

    def get(name: str) -> OperatorStats | None:
        return stats.get(name)

    in_window = and_(TicketEvent.at >= since, TicketEvent.at < until)
    rows = await session.execute(
        select(TicketEvent.actor, func.count(func.distinct(TicketEvent.ticket_id)))
        .where(TicketEvent.action.in_(HANDLING_ACTIONS), in_window).group_by(TicketEvent.actor))
    for actor, n in rows:
        if (s := get(actor)) is not None:
            s.handled = n
    rows = await session.execute(
        select(TicketEvent.actor, func.count()).where(TicketEvent.action == "reply", in_window)
        .group_by(TicketEvent.actor))
    for actor, n in rows:
        if (s := get(actor)) is not None:
            s.replies = n

    # First operator reply of each ticket created in the window, and who wrote it.
    first = (select(TicketEvent.ticket_id, func.min(TicketEvent.id).label("first_id"))
             .where(TicketEvent.action == "reply").group_by(TicketEvent.ticket_id).subquery())
    ev = aliased(TicketEvent)
    rows = await session.execute(
        select(ev.actor, ev.at, Ticket.created_at)
        .join(first, first.c.first_id == ev.id)
        .join(Ticket, Ticket.id == ev.ticket_id)
        .where(Ticket.created_at >= since, Ticket.created_at < until))
    for actor, at, created in rows:
        if (s := get(actor)) is not None:
            s.first_reply_seconds.append(max(0.0, (at - created).total_seconds()))

    cc_window = and_(ClassificationChange.at >= since, ClassificationChange.at < until,
                     ClassificationChange.field.is_not(None))
    rows = await session.execute(
        select(ClassificationChange.previous_by, func.count())
        .where(cc_window, ClassificationChange.previous_by != ClassificationChange.actor)
        .group_by(ClassificationChange.previous_by))
    for owner, n in rows:
        if owner and (s := get(owner)) is not None:
            s.corrected_by_others = n
    rows = await session.execute(
        select(ClassificationChange.actor, func.count())
        .where(cc_window, or_(ClassificationChange.previous_by.is_(None),
                              ClassificationChange.previous_by != ClassificationChange.actor))
        .group_by(ClassificationChange.actor))
    for actor, n in rows:
        if (s := get(actor)) is not None:
            s.corrections_made = n

    handled = aliased(TicketEvent)
    reopened = aliased(TicketEvent)
    rows = await session.execute(
        select(handled.actor, func.count(func.distinct(handled.ticket_id)))
        .join(reopened, and_(reopened.ticket_id == handled.ticket_id, reopened.action == Action.REOPEN.value,
                             reopened.id > handled.id))
        .where(handled.action.in_((Action.ANSWER.value, Action.DISPATCH.value)),
               handled.at >= since, handled.at < until)
        .group_by(handled.actor))
    for actor, n in rows:
        if (s := get(actor)) is not None:
            s.reopened = n

    rows = await session.execute(
        select(Ticket.assignee, func.count()).where(
            Ticket.assignee.is_not(None), Ticket.status.in_([s.value for s in OPEN_STATUSES]))
        .group_by(Ticket.assignee))
    for actor, n in rows:
        if (s := get(actor)) is not None:
            s.open_assigned = n
    return list(stats.values())


async def queue_counts(session: AsyncSession) -> dict[str, int]:
    """Headline numbers for the console header: waiting, urgent waiting, unclaimed.

    Two counts that the (status, urgent, …) and (status, assignee) indexes answer alone.
    """
    pending = Ticket.status == Status.PENDING_REVIEW.value
    total, urgent = (await session.execute(select(
        func.count(), func.coalesce(func.sum(case((Ticket.urgent.is_(True), 1), else_=0)), 0),
    ).select_from(Ticket).where(pending))).one()
    unclaimed = (await session.execute(
        select(func.count()).select_from(Ticket).where(pending, Ticket.assignee.is_(None)))).scalar_one()
    return {"pending": int(total), "urgent": int(urgent), "unclaimed": int(unclaimed)}
