"""How one inbound message plus an NLU result becomes conversation entries and a ticket.

This is the only module that makes that decision.  The NLU call happens before the
transaction (no lock is held over an HTTP call); the database work of one message is one
transaction; the reply is announced only after the commit.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.directory import Directory
from connectors.base import InboundMessage
from gateway.infra.keys import RedisKeys
from gateway.infra.metrics import Metrics
from gateway.infra.replies import ReplyBus
from ticketing.db.models.tickets import Entry, Ticket
from ticketing.intake import texts
from ticketing.intake.off_hours import off_hours_note
from ticketing.tickets import store
from ticketing.tickets.deadlines import deadline_for
from ticketing.tickets.lifecycle import OPEN_STATUSES, Action, Status
from ticketing.tickets.numbering import NUMBER_RE, detached_minting, mint_number_detached
from ticketing.tickets.store import AttachmentInfo, ContactInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    kind: str  # ticket | followup | faq | emergency | duplicate | event
    reply: str | None
    ticket_no: str | None = None
    entry_id: int | None = None


@dataclass(frozen=True)
class Classification:
    """The part of an NLU result the pipeline acts on (absent NLU → all empty, handoff)."""

    handoff: bool = True
    department: str | None = None
    region: str | None = None
    request_type: str | None = None
    alternatives: tuple[dict[str, Any], ...] = ()
    intent: str | None = None
    confidence: float | None = None
    emergency: dict[str, str] | None = None
    faq: dict[str, str] | None = None
    model: str | None = None

    @classmethod
    def from_nlu(cls, result: Any) -> Classification:
        intent = result.intent or {}
        return cls(
            handoff=bool(result.handoff),
            department=result.department,
            region=result.region,
            request_type=result.request_type,
            alternatives=tuple(result.department_alternatives or ()),
            intent=intent.get("name"),
            confidence=intent.get("confidence"),
            emergency=result.emergency,
            faq=result.faq,
            model=result.model,
        )

    @property
    def classified(self) -> bool:
        return bool(self.department or self.region or self.request_type)


def _parse_deadline(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


# Each item of the national platform is a case of its own, answered (回传) on its own,
# however many the same citizen has open.
STANDALONE_CHANNELS = frozenset({"national_platform"})


def _title(msg: InboundMessage) -> str | None:
    if msg.subject or msg.metadata.get("title"):
        return msg.subject or str(msg.metadata["title"])
    text = msg.text.strip()
    return text.splitlines()[0][:40] if text else None


class Pipeline:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        replies: ReplyBus,
        keys: RedisKeys,
        directory: Directory,
        metrics: Metrics,
        nlu: Any | None = None,
    ) -> None:
        self.sessions = sessions
        self.replies = replies
        self.keys = keys
        self.directory = directory
        self.metrics = metrics
        self.nlu = nlu
        self.detached_numbers = detached_minting(sessions)

    async def classify(self, text: str) -> Classification:
        if self.nlu is None or not text.strip():
            return Classification()
        started = time.perf_counter()
        result = await self.nlu.parse(text)
        self.metrics.nlu_seconds.observe(time.perf_counter() - started)
        return Classification.from_nlu(result)

    async def process(self, msg: InboundMessage) -> Outcome:
        async with self.sessions() as session:
            # Checked first so a redelivered message costs no NLU call.
            if (existing := await store.find_entry(session, msg.channel, msg.native_id)) is not None:
                return await self._redeliver(session, msg, existing)
            await session.rollback()  # hold no snapshot while the NLU thinks
            cls = await self.classify(msg.text)
            try:
                async with session.begin():
                    outcome = await self._store(session, msg, cls)
            except IntegrityError:
                # A concurrent worker stored the same channel message first.
                existing = await store.find_entry(session, msg.channel, msg.native_id)
                if existing is None:
                    raise
                return await self._redeliver(session, msg, existing)
        self.metrics.processed.labels(msg.channel, outcome.kind).inc()
        await self._announce(msg, outcome)
        return outcome

    async def _redeliver(self, session: AsyncSession, msg: InboundMessage, existing: Entry) -> Outcome:
        """The message was stored before (a retry): announce the stored reply again, store nothing."""
        stmt = (
            select(Entry)
            .where(Entry.conversation_id == existing.conversation_id, Entry.author == "bot", Entry.id > existing.id)
            .order_by(Entry.id)
            .limit(1)
        )
        bot = (await session.execute(stmt)).scalar_one_or_none()
        reply = bot.text if bot is not None and bot.meta.get("in_reply_to") == msg.native_id else None
        ticket_no = None
        if existing.ticket_id is not None:
            ticket_no = (await session.get(Ticket, existing.ticket_id)).number
        if reply is not None:
            await self.replies.deliver(msg.channel, msg.native_id, reply, ticket_no)
        self.metrics.duplicates.labels(msg.channel).inc()
        return Outcome("duplicate", reply, ticket_no, existing.id)

    async def _thread_ticket(self, session: AsyncSession, msg: InboundMessage) -> Ticket | None:
        """A ticket the citizen explicitly refers to: its number, or a message id of its thread."""
        candidates = [msg.metadata.get("ticket_no"), msg.thread_key, msg.subject]
        for value in candidates:
            if value and (match := NUMBER_RE.search(str(value))):
                ticket = await store.ticket_by_number(session, match.group(0))
                if ticket is not None:
                    return ticket
        refs = [r for r in [msg.thread_key, *(msg.metadata.get("references") or [])] if r]
        if refs:
            stmt = (
                select(Ticket)
                .join(Entry, Entry.ticket_id == Ticket.id)
                .where(Entry.channel == msg.channel, Entry.channel_message_id.in_(refs))
                .order_by(Entry.id.desc())
                .limit(1)
            )
            return (await session.execute(stmt)).scalar_one_or_none()
        return None

    async def _store(self, session: AsyncSession, msg: InboundMessage, cls: Classification) -> Outcome:
        conv = await store.lock_conversation(session, msg.channel, msg.sender_id, msg.received_at)
        attachments = [AttachmentInfo(a.filename, a.content_type, a.size, a.storage_key, a.kind)
                       for a in msg.attachments]
        meta = {k: v for k, v in msg.metadata.items() if k not in ("references",)}
        msg_type = str(msg.metadata.get("msg_type", "text"))

        # A named ticket is joined only on its own channel (a web visitor cannot write into a
        # WeChat citizen's ticket) and while it is open; otherwise the citizen's open ticket.
        ticket = await self._thread_ticket(session, msg)
        if ticket is None or ticket.channel != msg.channel or ticket.status not in OPEN_STATUSES:
            ticket = await store.open_ticket_of(session, conv.id)
        # A platform item or a written web message (网民留言, with its own title) is a case of its own,
        # even when the same citizen has another ticket open.
        if msg.channel in STANDALONE_CHANNELS or msg.metadata.get("force_ticket"):
            ticket = None

        def citizen_entry(t: Ticket | None):
            return store.add_entry(
                session, conversation=conv, ticket=t, author="citizen", channel=msg.channel, text=msg.text,
                channel_message_id=msg.native_id, subject=msg.subject, meta=meta, attachments=attachments,
                at=msg.received_at,
            )

        async def bot_entry(t: Ticket | None, text: str) -> Entry:
            return await store.add_entry(
                session, conversation=conv, ticket=t, author="bot", channel=msg.channel, text=text,
                meta={"in_reply_to": msg.native_id}, delivery_status="sent",
            )

        # Channel events (subscribe, unsubscribe) are recorded on the conversation only.
        if msg_type.startswith("event:"):
            entry = await citizen_entry(None)
            return Outcome("event", None, None, entry.id)

        if cls.emergency:
            reply = texts.emergency_reply(cls.emergency["number"], cls.emergency.get("kind", ""))
            if ticket is None:
                ticket = await self._new_ticket(session, conv, msg, cls, urgent=True)
            elif not ticket.urgent:
                await store.update_fields(session, ticket, actor="bot", urgent=True)
            entry = await citizen_entry(ticket)
            await bot_entry(ticket, reply)
            await store.record_event(session, ticket, actor="bot", action="emergency_redirect",
                                        detail=dict(cls.emergency))
            return Outcome("emergency", reply, ticket.number, entry.id)

        if ticket is not None:
            # A follow-up on an open ticket: the operator handles it; the bot only acknowledges.
            entry = await citizen_entry(ticket)
            if ticket.status == Status.ANSWERED:
                await store.transition(session, ticket, Action.REOPEN, actor="citizen", note="群众补充诉求")
            await store.record_event(session, ticket, actor="citizen", action="followup",
                                        detail={"entry_id": entry.id})
            reply = texts.followup_ack(ticket.number, off_hours_note(self.directory, msg.received_at))
            await bot_entry(ticket, reply)
            return Outcome("followup", reply, ticket.number, entry.id)

        if not msg.text.strip() and not attachments:
            entry = await citizen_entry(None)
            reply = texts.empty_message()
            await bot_entry(None, reply)
            return Outcome("faq", reply, None, entry.id)

        # A web form message (网民留言) or a platform item always becomes a ticket.
        if cls.faq and not cls.handoff and not msg.metadata.get("force_ticket") \
                and msg.channel not in STANDALONE_CHANNELS:
            entry = await citizen_entry(None)
            await bot_entry(None, cls.faq["answer"])
            return Outcome("faq", cls.faq["answer"], None, entry.id)

        ticket = await self._new_ticket(session, conv, msg, cls)
        entry = await citizen_entry(ticket)
        if cls.classified:
            await store.add_prediction(
                session, ticket, entry=entry, department=cls.department, region=cls.region,
                request_type=cls.request_type, intent=cls.intent, confidence=cls.confidence,
                alternatives=list(cls.alternatives), model_version=cls.model,
            )
            reply = texts.ticket_created(ticket.number, ticket.deadline, off_hours_note(self.directory, msg.received_at))
        else:
            reply = texts.ticket_created_unclassified(ticket.number, off_hours_note(self.directory, msg.received_at))
        await bot_entry(ticket, reply)
        return Outcome("ticket", reply, ticket.number, entry.id)

    async def _new_ticket(self, session: AsyncSession, conv, msg: InboundMessage, cls: Classification,
                          *, urgent: bool = False) -> Ticket:
        region = msg.metadata.get("region_hint") or cls.region
        request_type = msg.metadata.get("request_type_hint") or cls.request_type
        if region not in self.directory.region_codes:
            region = None
        if request_type not in self.directory.request_type_codes:
            request_type = None
        department = cls.department if cls.department in self.directory.department_codes else None
        contact = msg.contact
        number = await mint_number_detached(self.sessions, msg.received_at) if self.detached_numbers else None
        return await store.create_ticket(
            session,
            conversation=conv,
            channel=msg.channel,
            actor="bot" if cls.classified else "system",
            title=_title(msg),
            contact=ContactInfo(contact.name, contact.phone, contact.wechat_openid, contact.email),
            request_type=request_type,
            department=department,
            region=region,
            urgent=urgent,
            classification="predicted" if (department or region or request_type) else "unclassified",
            origin_hotline=msg.metadata.get("origin_hotline"),
            deadline=deadline_for(self.directory, request_type, msg.received_at, urgent=urgent),
            external_deadline=_parse_deadline(msg.metadata.get("deadline")),
            at=msg.received_at,
            number=number,
        )

    async def _announce(self, msg: InboundMessage, outcome: Outcome) -> None:
        if outcome.reply is not None:
            await self.replies.deliver(msg.channel, msg.native_id, outcome.reply, outcome.ticket_no)
        if msg.channel == "web":
            event = {"type": "message", "author": "bot", "text": outcome.reply, "ticket_no": outcome.ticket_no,
                     "kind": outcome.kind}
            if outcome.reply is not None:
                await self.replies.publish_event(self.keys.web_session(msg.sender_id), event)
        if outcome.kind in ("ticket", "followup", "emergency"):
            await self.replies.publish_event(
                self.keys.console_events,
                {"type": outcome.kind, "ticket_no": outcome.ticket_no, "channel": msg.channel},
            )
