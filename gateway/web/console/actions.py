"""Console actions, shared by the pages and the JSON API.

Each action is one transaction through ``ticketing.console_services``; live notifications
(the other consoles' queues, the citizen's web chat) go out only after the commit, so
nobody is told about a change that was rolled back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.channels.delivery import deliver_operator_reply, report_status_to_platform, send_entry
from gateway.infra.replies import REPLIES
from gateway.infra.resources import DIRECTORY, SESSIONS
from gateway.web.audiences import Config
from gateway.web.present import Labels, detail
from ticketing.accounts.roles import Actor
from ticketing.db.models.tickets import ClassificationChange, Conversation, Dispatch, Entry, Ticket, TicketEvent
from ticketing.errors import ConsoleError
from ticketing.intake import manual
from ticketing.intake.manual import ManualIntake
from ticketing.tickets import claims, classification, handling, replies
from ticketing.workflow import assignments

log = logging.getLogger(__name__)


@dataclass
class Notices:
    """Events to publish once the transaction is committed."""

    console: list[dict[str, Any]] = field(default_factory=list)
    web: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def publish(self, config: Config) -> None:
        bus = config[REPLIES]
        try:
            for event in self.console:
                await bus.publish_event(bus.console_topic, event)
            for sender_id, event in self.web:
                await bus.publish_event(bus.session_topic(sender_id), event)
        except Exception as exc:  # live updates only; the change itself is committed
            log.warning("console notification not published: %s", exc)


def labels(config: Config) -> Labels:
    return Labels(config[DIRECTORY])


async def _locked(session: AsyncSession, number: str) -> Ticket:
    ticket = await claims.get_ticket(session, number)
    return await claims.lock_ticket(session, ticket)


async def _joined(session: AsyncSession, ticket: Ticket, actor: Actor, notices: Notices) -> None:
    """Tell the queue (and a web citizen) that an operator took the ticket."""
    notices.console.append({"type": "claimed", "ticket_no": ticket.number, "by": actor.username,
                            "channel": ticket.channel})
    if ticket.channel == "web" and ticket.conversation_id is not None:
        conv = await session.get(Conversation, ticket.conversation_id)
        if conv is not None:
            notices.web.append((conv.sender_id, {"type": "operator_joined", "operator": actor.display_name,
                                                 "ticket_no": ticket.number}))


async def _handle(session: AsyncSession, number: str, actor: Actor, notices: Notices) -> Ticket:
    ticket = await _locked(session, number)
    before = ticket.assignee
    await claims.ensure_handler(session, ticket, actor)
    if before is None and ticket.assignee == actor.username:
        await _joined(session, ticket, actor, notices)
    return ticket


def _updated(ticket: Ticket, actor: Actor, what: str) -> dict[str, Any]:
    return {"type": "updated", "ticket_no": ticket.number, "by": actor.username, "what": what,
            "status": ticket.status, "channel": ticket.channel}


# --------------------------------------------------------------------------- reading

async def ticket_view(config: Config, actor: Actor, number: str) -> dict[str, Any]:
    async with config[SESSIONS]() as session:
        ticket = await claims.get_ticket(session, number, full=True)
        dispatch = await assignments.active_dispatch(session, ticket)
        merged_into = None
        if ticket.status == "merged":
            stmt = (select(TicketEvent.to_value).where(TicketEvent.ticket_id == ticket.id,
                                                       TicketEvent.action == "merged_into")
                    .order_by(TicketEvent.id.desc()).limit(1))
            merged_into = (await session.execute(stmt)).scalar_one_or_none()
        return detail(ticket, labels(config), actor, dispatch=dispatch, merged_into=merged_into)


# --------------------------------------------------------------------------- claiming

async def claim(config: Config, actor: Actor, number: str) -> Ticket:
    notices = Notices()
    async with config[SESSIONS]() as session, session.begin():
        ticket = await claims.get_ticket(session, number)
        before = ticket.assignee
        await claims.claim(session, ticket, actor)
        if before is None:
            await _joined(session, ticket, actor, notices)
    await notices.publish(config)
    return ticket


async def release(config: Config, actor: Actor, number: str) -> Ticket:
    async with config[SESSIONS]() as session, session.begin():
        ticket = await _locked(session, number)
        await claims.release(session, ticket, actor)
    await Notices(console=[_updated(ticket, actor, "release")]).publish(config)
    return ticket


async def assign(config: Config, actor: Actor, number: str, to_username: str | None) -> Ticket:
    async with config[SESSIONS]() as session, session.begin():
        ticket = await _locked(session, number)
        await claims.assign(session, ticket, actor, to_username)
    await Notices(console=[_updated(ticket, actor, "assign")]).publish(config)
    return ticket


async def reveal(config: Config, actor: Actor, number: str) -> dict[str, Any]:
    async with config[SESSIONS]() as session, session.begin():
        ticket = await claims.get_ticket(session, number)
        return await claims.reveal_contact(session, ticket, actor)


# --------------------------------------------------------------------------- working a ticket

async def classify(config: Config, actor: Actor, number: str,
                   values: dict[str, Any]) -> list[ClassificationChange]:
    """Confirm or correct; returns the fields changed (empty: a bare confirmation)."""
    notices = Notices()
    async with config[SESSIONS]() as session, session.begin():
        ticket = await _handle(session, number, actor, notices)
        changes = await classification.set_classification(session, ticket, actor, config[DIRECTORY], values=values)
    notices.console.append(_updated(ticket, actor, "classify"))
    await notices.publish(config)
    return changes


async def reply(config: Config, actor: Actor, number: str, text: Any, *, mark_answered: bool = False) -> Entry:
    notices = Notices()
    async with config[SESSIONS]() as session:
        ticket = await _handle(session, number, actor, notices)
        if notices.web or notices.console:
            # Claimed just now: the citizen hears "an operator joined" before the answer.
            await session.commit()
            await notices.publish(config)
            notices = Notices()
        entry = await deliver_operator_reply(config, session, ticket, text, actor)
        if mark_answered and ticket.status in ("pending_review", "returned"):
            ticket = await _locked(session, number)
            await handling.answer(session, ticket, actor)
            await session.commit()
    notices.console.append(_updated(ticket, actor, "reply"))
    await notices.publish(config)
    return entry


async def retry_delivery(config: Config, actor: Actor, number: str, entry_id: int) -> Entry:
    async with config[SESSIONS]() as session:
        ticket = await _handle(session, number, actor, Notices())
        entry = await session.get(Entry, entry_id)
        if entry is None or entry.ticket_id != ticket.id or entry.author != "operator" or not entry.public:
            raise ConsoleError(404, "not_found", "没有这条答复")
        if entry.delivery_status == "sent":
            raise ConsoleError(409, "already_sent", "这条答复已发送，无需重发")
        await session.commit()
        return await send_entry(config, session, ticket, entry)


async def note(config: Config, actor: Actor, number: str, text: Any) -> Entry:
    async with config[SESSIONS]() as session, session.begin():
        ticket = await claims.get_ticket(session, number)
        entry = await replies.add_note(session, ticket, actor, text)
    await Notices(console=[_updated(ticket, actor, "note")]).publish(config)
    return entry


async def merge(config: Config, actor: Actor, number: str, into: Any) -> Ticket:
    if not isinstance(into, str) or not into.strip():
        raise ConsoleError(400, "into_required", "请填写要合并到的工单号")
    into = into.strip().upper()
    notices = Notices()
    async with config[SESSIONS]() as session, session.begin():
        source = await _handle(session, number, actor, notices)
        target = await _locked(session, into)
        await handling.merge(session, source, target, actor)
    notices.console.append(_updated(source, actor, "merge"))
    await notices.publish(config)
    return source


async def lifecycle(config: Config, actor: Actor, number: str, action: str,
                    note_text: str | None = None) -> Ticket:
    """answer (直接办结) | close | reopen."""
    notices = Notices()
    async with config[SESSIONS]() as session, session.begin():
        if action == "reopen":
            # Anyone on the console may reopen (a citizen calls back); it returns to the queue.
            ticket = await _locked(session, number)
            await handling.reopen(session, ticket, actor, note_text)
        else:
            ticket = await _handle(session, number, actor, notices)
            fn = {"answer": handling.answer, "close": handling.close}[action]
            await fn(session, ticket, actor, note_text)
    if action in ("answer", "close"):
        async with config[SESSIONS]() as session:
            await report_status_to_platform(config, session, ticket, "answered" if action == "answer" else "closed")
    notices.console.append(_updated(ticket, actor, action))
    await notices.publish(config)
    return ticket


async def dispatch(config: Config, actor: Actor, number: str, *, target_kind: Any, target: Any,
                   note_text: Any = None) -> Dispatch:
    if not isinstance(target_kind, str) or not isinstance(target, str):
        raise ConsoleError(400, "invalid_target", "请选择转办对象")
    notices = Notices()
    async with config[SESSIONS]() as session, session.begin():
        ticket = await _handle(session, number, actor, notices)
        row = await assignments.dispatch(session, ticket, actor, config[DIRECTORY], target_kind=target_kind, target=target,
                                note=note_text if isinstance(note_text, str) else None)
    notices.console.append(_updated(ticket, actor, "dispatch"))
    await notices.publish(config)
    return row


async def intake(config: Config, actor: Actor, data: ManualIntake) -> Ticket:
    async with config[SESSIONS]() as session, session.begin():
        ticket = await manual.manual_intake(session, actor, config[DIRECTORY], data)
    await Notices(console=[{"type": "ticket", "ticket_no": ticket.number, "channel": ticket.channel,
                            "by": actor.username}]).publish(config)
    return ticket
