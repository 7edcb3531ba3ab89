"""Console actions, shared by the pages and the JSON API.

Each action is one transaction through ``ticketing.console_services``; live notifications
(the other consoles' queues, the citizen's web chat) go out only after the commit, so
nobody is told about a change that was rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.channels import loop_notices
from gateway.channels.delivery import deliver_operator_reply, deliver_to_merged, report_status_to_platform, send_entry
from gateway.channels.survey_links import survey_link, survey_message
from gateway.infra.replies import REPLIES
from gateway.infra.resources import DIRECTORY, SESSIONS
from gateway.web.audiences import Config
from gateway.web.present import Labels, LoopFacts, detail
from ticketing.accounts.roles import Actor
from ticketing.db.models.accounts import User
from ticketing.db.models.tickets import ClassificationChange, Conversation, Dispatch, Entry, Ticket, TicketEvent
from ticketing.db.models.workflow import ExtensionRequest, Survey
from ticketing.errors import ConsoleError
from ticketing.intake import manual
from ticketing.intake.manual import ManualIntake
from ticketing.tickets import claims, classification, handling, read_markers, replies
from ticketing.tickets.deadlines import end_of_local_day
from ticketing.tickets.lifecycle import Status
from ticketing.tickets.masking import mask_contacts_in_text
from ticketing.workflow import assignments, extensions, reports, reviews, supervision_notes

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

async def ticket_view(config: Config, actor: Actor, number: str, *, mark_read: bool = False) -> dict[str, Any]:
    """The ticket as its page shows it; ``mark_read``: the actor opened it, so the queue's
    未读 marker goes (up to the newest activity loaded here)."""
    async with config[SESSIONS]() as session:
        ticket = await claims.get_ticket(session, number, full=True)
        if mark_read:
            await read_markers.mark_read(session, actor.username, ticket.id, read_markers.newest_seen(ticket))
            await session.commit()
        dispatch = await assignments.active_dispatch(session, ticket)
        merged_into = None
        if ticket.status == "merged":
            stmt = (select(TicketEvent.to_value).where(TicketEvent.ticket_id == ticket.id,
                                                       TicketEvent.action == "merged_into")
                    .order_by(TicketEvent.id.desc()).limit(1))
            merged_into = (await session.execute(stmt)).scalar_one_or_none()
        facts = LoopFacts(
            rounds=await assignments.dispatch_history(session, ticket),
            reports=await reports.reports_of(session, ticket),
            extensions=list((await session.execute(
                select(ExtensionRequest).where(ExtensionRequest.ticket_id == ticket.id)
                .order_by(ExtensionRequest.id))).scalars()),
            notes=await supervision_notes.notes_of(session, ticket),
            surveys=list((await session.execute(
                select(Survey).where(Survey.ticket_id == ticket.id).order_by(Survey.id))).scalars()),
        )
        return detail(ticket, labels(config), actor, dispatch=dispatch, merged_into=merged_into, loop=facts,
                      people=await display_names(session, ticket, facts))


async def display_names(session: AsyncSession, ticket: Ticket, facts: LoopFacts) -> dict[str, str]:
    """Who appears in the timeline, by the name their colleagues know them by."""
    names = {ev.actor for ev in ticket.events}
    names |= {value for ev in ticket.events if ev.field == "assignee" for value in (ev.from_value, ev.to_value)}
    names |= {d.actor for d in facts.rounds}
    names.discard(None)
    if not names:
        return {}
    rows = await session.execute(select(User.username, User.display_name).where(User.username.in_(names)))
    return {username: shown for username, shown in rows if shown}


async def dispatched_at(session: AsyncSession, ticket_ids: Sequence[int]) -> dict[int, datetime]:
    """When each ticket's open lead dispatch began: a queue row's time is measured from there."""
    if not ticket_ids:
        return {}
    stmt = (select(Dispatch.ticket_id, func.max(Dispatch.at))
            .where(Dispatch.ticket_id.in_(ticket_ids), Dispatch.active.is_(True), Dispatch.role == "lead")
            .group_by(Dispatch.ticket_id))
    return {ticket_id: at for ticket_id, at in await session.execute(stmt)}


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


def _reason_for_returned(ticket: Ticket, note_text: str | None) -> None:
    if ticket.status == Status.RETURNED and not (note_text or "").strip():
        raise ConsoleError(400, "reason_required", "办结已退回的工单须填写理由")


async def lifecycle(config: Config, actor: Actor, number: str, action: str,
                    note_text: str | None = None) -> Ticket:
    """answer (直接办结) | close | reopen."""
    notices = Notices()
    async with config[SESSIONS]() as session, session.begin():
        if action == "reopen":
            # Anyone on the console may reopen (a citizen calls back); it returns to the queue.
            ticket = await _locked(session, number)
            await handling.reopen(session, ticket, actor, note_text)
        elif action == "close" and actor.role == "dispatcher":
            # A dispatcher closes a returned ticket from the loop desk without holding it.
            ticket = await _locked(session, number)
            _reason_for_returned(ticket, note_text)
            await handling.close(session, ticket, actor, note_text)
        else:
            ticket = await _handle(session, number, actor, notices)
            if action == "close":
                _reason_for_returned(ticket, note_text)
            fn = {"answer": handling.answer, "close": handling.close}[action]
            await fn(session, ticket, actor, note_text)
    if action in ("answer", "close"):
        async with config[SESSIONS]() as session:
            await report_status_to_platform(config, session, ticket, "answered" if action == "answer" else "closed")
    notices.console.append(_updated(ticket, actor, action))
    await notices.publish(config)
    return ticket


async def _acting(session: AsyncSession, number: str, actor: Actor, notices: Notices) -> Ticket:
    """An operator (or a supervisor, audited) works a ticket they hold, taking a free one now; a
    dispatch-and-supervision seat acts on the loop without holding the ticket, under its row lock."""
    if actor.role == "dispatcher":
        return await _locked(session, number)
    return await _handle(session, number, actor, notices)


def _citizen_title(ticket: Ticket) -> str:
    # Mail leaves the platform: a phone number typed into the title stays masked.
    return mask_contacts_in_text(ticket.title) or ""


async def dispatch(config: Config, actor: Actor, number: str, *, target_kind: Any, target: Any,
                   note_text: Any = None, assists: Sequence[str] = (), deadline: date | None = None,
                   deadline_reason: Any = None) -> Dispatch:
    """交办 (or 改派 of a returned ticket) to a lead unit and its assisting units; the units are
    told after the commit (desk topic + mail), and the mails' outcomes land on the timeline."""
    if (target_kind is not None and not isinstance(target_kind, str)) or not isinstance(target, str) or not target:
        raise ConsoleError(400, "invalid_target", "请选择转办对象")
    due = end_of_local_day(deadline) if deadline is not None else None
    notices = Notices()
    async with config[SESSIONS]() as session, session.begin():
        ticket = await _acting(session, number, actor, notices)
        redispatch = ticket.status == Status.RETURNED
        row = await assignments.dispatch(session, ticket, actor, config[DIRECTORY], target_kind=target_kind or None,
                                         target=target, assists=list(assists),
                                         note=note_text if isinstance(note_text, str) else None,
                                         deadline=due, deadline_reason=deadline_reason
                                         if isinstance(deadline_reason, str) else None)
        rows = await assignments.active_dispatches(session, ticket)
        unit_notices = [loop_notices.dispatched(config, ticket.number, _citizen_title(ticket), unit=r.target,
                                                role=r.role, sign_by=r.sign_deadline, deadline=r.deadline,
                                                redispatch=redispatch) for r in rows]
    notices.console.append(_updated(ticket, actor, "dispatch"))
    await notices.publish(config)
    await loop_notices.send_notices(config, ticket.number, unit_notices, actor=actor.username)
    return row


# --------------------------------------------------------------------------- the handling loop (platform side)

@dataclass(frozen=True)
class Reviewed:
    decision: str
    report_id: int
    entry: Entry | None = None


async def review(config: Config, actor: Actor, number: str, *, decision: str, text: Any = None,
                 reason: Any = None) -> Reviewed:
    """审核 a unit's answer.  Approved: accepted in one transaction, then delivered to the citizen
    through their own channel with the 一事一评 link; rejected: back to the unit, who is told."""
    if decision == "reject":
        async with config[SESSIONS]() as session, session.begin():
            ticket = await _locked(session, number)
            report = await reviews.reject(session, ticket, actor, reason=reason)
            notice = loop_notices.answer_rejected(config, ticket.number, unit=report.unit,
                                                  reason=report.review_note or "")
        await Notices(console=[_updated(ticket, actor, "review")]).publish(config)
        await loop_notices.send_notices(config, ticket.number, [notice], actor=actor.username)
        return Reviewed("reject", report.id)
    if decision != "approve":
        raise ConsoleError(400, "invalid_decision", "审核结论须为通过（approve）或退回（reject）")
    directory = config[DIRECTORY]
    async with config[SESSIONS]() as session:
        async with session.begin():
            ticket = await _locked(session, number)
            accepted = await reviews.approve(session, ticket, actor, directory, text=text)
            report_id, unit = accepted.report.id, accepted.report.unit
            answer = f"【{loop_notices.unit_name(config, unit)}答复】{accepted.report.text}"
            message = survey_message(answer, survey_link(config, accepted.survey),
                                     valid_days=directory.handling.survey_valid_days)
            # The citizen's copy is stored (pending) with the acceptance, in one transaction: a crash
            # before it is sent leaves a visible "not sent" answer to resend, never a silent one.
            entry, conv = await replies.start_reply(session, ticket, actor, message)
            accepted.report.entry_id = entry.id
        # A national-platform item needs no separate status report here: its channel's delivery
        # is the write-back (answered, with this text); a second one would repeat it.
        entry = await send_entry(config, session, ticket, entry, conv)
        # Merged duplicates' citizens get the answer too, without this citizen's survey link.
        await deliver_to_merged(config, session, ticket, entry, text=answer)
    await Notices(console=[_updated(ticket, actor, "review")]).publish(config)
    await _tell_desk(config, unit, {"type": "answer_accepted", "ticket_no": ticket.number})
    return Reviewed("approve", report_id, entry)


async def _tell_desk(config: Config, unit: str, event: dict[str, Any]) -> None:
    bus = config[REPLIES]
    try:
        await bus.publish_event(bus.desk_topic(unit), event)
    except Exception as exc:  # live refresh only
        log.warning("desk event for %s not published: %s", unit, exc)


async def decide_extension(config: Config, actor: Actor, number: str, *, approve: bool, note: Any = None) -> Any:
    """同意 / 不同意 a unit's pending 延期申请 (the reason is required to refuse)."""
    async with config[SESSIONS]() as session, session.begin():
        ticket = await _locked(session, number)
        request = await extensions.decide(session, ticket, actor, approve=approve, note=note)
        notice = loop_notices.extension_decided(config, ticket.number, unit=request.unit, approved=approve,
                                                deadline=request.requested_deadline, note=request.decision_note)
    await Notices(console=[_updated(ticket, actor, "extension")]).publish(config)
    await loop_notices.send_notices(config, ticket.number, [notice], actor=actor.username)
    return request


async def change_deadline(config: Config, actor: Actor, number: str, *, day: date, reason: Any) -> Dispatch:
    async with config[SESSIONS]() as session, session.begin():
        ticket = await _locked(session, number)
        row = await assignments.set_deadline(session, ticket, actor, end_of_local_day(day), reason=reason)
        unit, due = row.target, row.deadline
    await Notices(console=[_updated(ticket, actor, "deadline")]).publish(config)
    await _tell_desk(config, unit, {"type": "deadline_changed", "ticket_no": ticket.number,
                                    "deadline": due.isoformat() if due else None})
    return row


async def supervise(config: Config, actor: Actor, number: str, *, text: Any, day: date | None = None) -> Any:
    """督办单 to the lead unit; its leader is mailed too once the note escalates."""
    async with config[SESSIONS]() as session, session.begin():
        ticket = await _locked(session, number)
        note = await supervision_notes.issue(session, ticket, actor, config[DIRECTORY], text=text, until=day)
        unit_notices = loop_notices.supervised(config, ticket.number, unit=note.unit, text=note.text, seq=note.seq,
                                               deadline=note.new_deadline, leader=bool(note.escalated_to))
    await Notices(console=[_updated(ticket, actor, "supervise")]).publish(config)
    await loop_notices.send_notices(config, ticket.number, unit_notices, actor=actor.username)
    return note


async def intake(config: Config, actor: Actor, data: ManualIntake) -> Ticket:
    async with config[SESSIONS]() as session, session.begin():
        ticket = await manual.manual_intake(session, actor, config[DIRECTORY], data)
    await Notices(console=[{"type": "ticket", "ticket_no": ticket.number, "channel": ticket.channel,
                            "by": actor.username}]).publish(config)
    return ticket
