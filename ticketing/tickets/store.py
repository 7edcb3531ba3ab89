"""The ticket store's primitives: conversations, entries, tickets, predictions, events and transitions.

Every function takes an ``AsyncSession`` and leaves the commit to the caller."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Attachment, Conversation, Entry, Prediction, Ticket, TicketEvent
from ticketing.errors import IllegalTransition
from ticketing.tickets.lifecycle import ACTION_LABELS, OPEN_STATUSES, Status, next_status, status_label
from ticketing.tickets.numbering import mint_number


@dataclass(frozen=True)
class AttachmentInfo:
    filename: str
    content_type: str
    size: int
    storage_key: str
    kind: str = "file"


@dataclass(frozen=True)
class ContactInfo:
    name: str | None = None
    phone: str | None = None
    wechat_openid: str | None = None
    email: str | None = None


def _insert(session: AsyncSession):
    return postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert


async def find_entry(session: AsyncSession, channel: str, channel_message_id: str) -> Entry | None:
    stmt = select(Entry).where(Entry.channel == channel, Entry.channel_message_id == channel_message_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock_conversation(session: AsyncSession, channel: str, sender_id: str, at: datetime) -> Conversation:
    """Get or create the citizen's conversation, locked for this transaction, in one statement.

    The upsert's row lock (PostgreSQL; SQLite serialises writers anyway) orders concurrent
    messages of one citizen, so two workers cannot both decide "no open ticket" and open
    two tickets for the same person.
    """
    insert = _insert(session)(Conversation).values(
        channel=channel, sender_id=sender_id, created_at=at, last_message_at=at)
    stmt = insert.on_conflict_do_update(
        index_elements=[Conversation.channel, Conversation.sender_id],
        set_={"last_message_at": insert.excluded.last_message_at},
    ).returning(Conversation)
    return (await session.scalars(stmt, execution_options={"populate_existing": True})).one()


async def conversation_of(session: AsyncSession, ticket: Ticket) -> Conversation:
    """The conversation a ticket's entries go to (operators' notes and replies, merge notices)."""
    if ticket.conversation_id is not None:
        conv = await session.get(Conversation, ticket.conversation_id)
        if conv is not None:
            return conv
    # A ticket without a conversation (should not happen; kept robust): give it one.
    conv = await lock_conversation(session, ticket.channel, f"ticket:{ticket.number}", utcnow())
    ticket.conversation_id = conv.id
    return conv


async def open_ticket_of(session: AsyncSession, conversation_id: int) -> Ticket | None:
    stmt = (
        select(Ticket)
        .where(Ticket.conversation_id == conversation_id, Ticket.status.in_([s.value for s in OPEN_STATUSES]))
        .order_by(Ticket.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def ticket_by_number(session: AsyncSession, number: str, *, full: bool = False) -> Ticket | None:
    stmt = select(Ticket).where(Ticket.number == number)
    if full:
        stmt = stmt.options(
            selectinload(Ticket.entries),
            selectinload(Ticket.events),
            selectinload(Ticket.predictions),
            selectinload(Ticket.attachments),
        )
    return (await session.execute(stmt)).scalar_one_or_none()


async def add_entry(
    session: AsyncSession,
    *,
    conversation: Conversation,
    ticket: Ticket | None,
    author: str,
    channel: str,
    text: str,
    channel_message_id: str | None = None,
    subject: str | None = None,
    author_name: str | None = None,
    public: bool = True,
    delivery_status: str | None = None,
    delivery_detail: str | None = None,
    meta: dict[str, Any] | None = None,
    attachments: Iterable[AttachmentInfo] = (),
    at: datetime | None = None,
) -> Entry:
    entry = Entry(
        conversation_id=conversation.id,
        ticket_id=ticket.id if ticket else None,
        author=author,
        author_name=author_name,
        channel=channel,
        channel_message_id=channel_message_id,
        text=text,
        subject=subject,
        public=public,
        delivery_status=delivery_status,
        delivery_detail=delivery_detail,
        meta=meta or {},
        created_at=at or utcnow(),
    )
    session.add(entry)
    await session.flush()
    for att in attachments:
        session.add(
            Attachment(
                ticket_id=ticket.id if ticket else None,
                entry_id=entry.id,
                filename=att.filename,
                content_type=att.content_type,
                size=att.size,
                storage_key=att.storage_key,
                kind=att.kind,
            )
        )
    return entry


async def record_event(
    session: AsyncSession,
    ticket: Ticket,
    *,
    actor: str,
    action: str,
    field: str | None = None,
    from_value: Any = None,
    to_value: Any = None,
    public: bool = False,
    detail: dict[str, Any] | None = None,
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id,
        at=utcnow(),
        actor=actor,
        action=action,
        field=field,
        from_value=None if from_value is None else str(from_value),
        to_value=None if to_value is None else str(to_value),
        public=public,
        detail=detail or {},
    )
    session.add(event)
    return event


async def create_ticket(
    session: AsyncSession,
    *,
    conversation: Conversation | None,
    channel: str,
    actor: str,
    status: Status = Status.PENDING_REVIEW,
    title: str | None = None,
    contact: ContactInfo = ContactInfo(),
    request_type: str | None = None,
    department: str | None = None,
    region: str | None = None,
    urgent: bool = False,
    classification: str = "unclassified",
    origin_hotline: str | None = None,
    deadline: datetime | None = None,
    external_deadline: datetime | None = None,
    at: datetime | None = None,
    number: str | None = None,
) -> Ticket:
    at = at or utcnow()
    ticket = Ticket(
        number=number or await mint_number(session, at),
        conversation_id=conversation.id if conversation else None,
        channel=channel,
        origin_hotline=origin_hotline,
        title=(title or "")[:200] or None,
        request_type=request_type,
        department=department,
        region=region,
        urgent=urgent,
        classification=classification,
        status=status.value,
        deadline=external_deadline or deadline,
        external_deadline=external_deadline,
        citizen_name=contact.name,
        citizen_phone=contact.phone,
        citizen_wechat_openid=contact.wechat_openid,
        citizen_email=contact.email,
        created_at=at,
        updated_at=at,
    )
    session.add(ticket)
    await session.flush()
    await record_event(
        session, ticket, actor=actor, action="created", field="status", to_value=status.value, public=True,
        detail={"channel": channel},
    )
    return ticket


async def add_prediction(
    session: AsyncSession,
    ticket: Ticket,
    *,
    entry: Entry | None,
    department: str | None,
    region: str | None,
    request_type: str | None,
    intent: str | None,
    confidence: float | None,
    alternatives: Sequence[dict[str, Any]] | None,
    model_version: str | None,
    request_type_alternatives: Sequence[dict[str, Any]] | None = None,
) -> Prediction:
    prediction = Prediction(
        ticket_id=ticket.id,
        entry_id=entry.id if entry else None,
        department=department,
        region=region,
        request_type=request_type,
        intent=intent,
        confidence=confidence,
        alternatives=list(alternatives or []),
        request_type_alternatives=list(request_type_alternatives) if request_type_alternatives else None,
        model_version=model_version,
    )
    session.add(prediction)
    return prediction


async def transition(session: AsyncSession, ticket: Ticket, action: str, *, actor: str, note: str | None = None) -> Ticket:
    target = next_status(ticket.status, action)
    if target is None:
        raise IllegalTransition(ticket.number, status_label(ticket.status), ACTION_LABELS.get(action, action))
    before = ticket.status
    ticket.status = target.value
    ticket.updated_at = utcnow()
    if target is Status.CLOSED:
        ticket.closed_at = ticket.updated_at
    elif before == Status.CLOSED:
        ticket.closed_at = None
    await record_event(
        session, ticket, actor=actor, action=action, field="status", from_value=before, to_value=target.value,
        public=True, detail={"note": note} if note else None,
    )
    return ticket


async def update_fields(session: AsyncSession, ticket: Ticket, *, actor: str, **changes: Any) -> list[TicketEvent]:
    """Change classification or contact fields, one audit event per changed field."""
    allowed = {"request_type", "department", "region", "urgent", "deadline", "title", "assignee", "unit",
               "citizen_name", "citizen_phone", "citizen_email", "location_detail", "event_time"}
    events = []
    for field, value in changes.items():
        if field not in allowed:
            raise ValueError(f"field {field!r} cannot be changed")
        before = getattr(ticket, field)
        if before == value:
            continue
        setattr(ticket, field, value)
        events.append(await record_event(session, ticket, actor=actor, action="update", field=field,
                                         from_value=before, to_value=value))
    if events:
        ticket.updated_at = utcnow()
    return events


async def conversation_entries(
    session: AsyncSession, channel: str, sender_id: str, *, after_id: int = 0, limit: int = 200
) -> list[Entry]:
    stmt = (
        select(Entry)
        .join(Conversation, Entry.conversation_id == Conversation.id)
        .where(Conversation.channel == channel, Conversation.sender_id == sender_id, Entry.id > after_id,
               Entry.public.is_(True))
        .order_by(Entry.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())
