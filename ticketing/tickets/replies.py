"""Notes and replies on a ticket's conversation, and the bookkeeping of their delivery."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.accounts.roles import Actor
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Conversation, Entry, Ticket
from ticketing.errors import ConsoleError
from ticketing.inputs import clean_text
from ticketing.tickets import claims, store
from ticketing.tickets.lifecycle import Status

# --------------------------------------------------------------------------- notes, replies

async def add_note(session: AsyncSession, ticket: Ticket, actor: Actor, text: Any) -> Entry:
    """An internal note: colleagues see it, the citizen never does.  Not on a ticket another
    operator holds (a supervisor may)."""
    text = clean_text(text, "备注")
    # A supervisor's note changes nothing of the case and carries its author: not an override.
    await claims.ensure_not_anothers(session, ticket, actor, what="note", audited=False)
    conv = await store.conversation_of(session, ticket)
    entry = await store.add_entry(session, conversation=conv, ticket=ticket, author="operator",
                                  author_name=actor.display_name, channel=ticket.channel, text=text,
                                  public=False, meta={"operator": actor.username, "kind": "note"})
    await store.record_event(session, ticket, actor=actor.username, action="note",
                             detail={"entry_id": entry.id})
    return entry


async def start_reply(session: AsyncSession, ticket: Ticket, actor: Actor, text: Any) -> tuple[Entry, Conversation]:
    """Store an operator's reply as ``pending`` before anything is sent, so a crash while
    sending leaves a visible "not sent" entry instead of a message nobody knows about."""
    if ticket.status == Status.MERGED:
        raise ConsoleError(409, "merged", "该工单已合并，请在合并后的工单中答复")
    text = clean_text(text, "答复内容")
    conv = await store.conversation_of(session, ticket)
    entry = await store.add_entry(session, conversation=conv, ticket=ticket, author="operator",
                                  author_name=actor.display_name, channel=ticket.channel, text=text,
                                  public=True, delivery_status="pending",
                                  meta={"operator": actor.username, "kind": "reply"})
    await store.record_event(session, ticket, actor=actor.username, action="reply",
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
