"""How a channel message (+ its classification) becomes or joins a ticket, and what the bot answers.

This is the only place that makes that decision.  Each call works inside the caller's
transaction and commits nothing: the caller asks the NLU before it (no lock is held over an HTTP
call), commits after it, and only then sends the reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.directory import Directory
from ticketing.db.models.tickets import Conversation, Entry, Prediction, Ticket, TicketEvent
from ticketing.intake import contact_details, texts
from ticketing.intake.contact_details import phone_in_text
from ticketing.intake.contract import Classification, IntakeMessage, Outcome
from ticketing.intake.gathering import CLARIFY, Dialogue, Gatherer, Question, hand_over
from ticketing.intake.hints import ticket_codes
from ticketing.intake.off_hours import off_hours_note
from ticketing.tickets import store
from ticketing.tickets.deadlines import deadline_for
from ticketing.tickets.lifecycle import OPEN_STATUSES, Action, Status
from ticketing.tickets.masking import mask_phone
from ticketing.tickets.numbering import NUMBER_RE, NumberMint, detached_minting
from ticketing.tickets.store import AttachmentInfo, ContactInfo

# Each item of the national platform is a case of its own, answered (回传) on its own,
# however many the same citizen has open.
STANDALONE_CHANNELS = frozenset({"national_platform"})

# A citizen answering what the bot or an operator just asked is on that ticket's matter, whatever
# the NLU makes of the answer ("光明路口" has no department); later, the words decide again.
QUESTION_WINDOW = timedelta(minutes=10)
QUESTION_MARKS = ("？", "?")


def _external_deadline(value: Any) -> datetime | None:
    """The deadline a channel fixed (the national platform's), if it is a usable aware time."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _intent_family(intent: str | None) -> str | None:
    """A retrieval intent's family is its stem (faq/housing_fund → faq); any other intent is its own."""
    return intent.split("/", 1)[0] if intent else None


def _title(message: IntakeMessage) -> str | None:
    if message.subject or message.metadata.get("title"):
        return message.subject or str(message.metadata["title"])
    text = message.text.strip()
    return text.splitlines()[0][:40] if text else None


class IntakeRules:
    """The intake rules of one deployment: its directory of codes and its database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], directory: Directory) -> None:
        self.sessions = sessions
        self.directory = directory
        self.gatherer = Gatherer(directory)
        # PostgreSQL: numbers come from a connection outside the pool (see numbering.py).
        self.mint = NumberMint(sessions.kw["bind"]) if detached_minting(sessions) else None

    async def aclose(self) -> None:
        if self.mint is not None:
            await self.mint.aclose()

    async def stored_entry(self, session: AsyncSession, message: IntakeMessage) -> Entry | None:
        """The citizen entry of this very message, if it was stored before (a retry or a redelivery)."""
        return await store.find_entry(session, message.channel, message.native_id)

    async def redelivered(self, session: AsyncSession, message: IntakeMessage, existing: Entry) -> Outcome:
        """A message stored before: the reply the bot gave it then; nothing is stored again."""
        stmt = (
            select(Entry)
            .where(Entry.conversation_id == existing.conversation_id, Entry.author == "bot", Entry.id > existing.id)
            .order_by(Entry.id)
            .limit(1)
        )
        bot = (await session.execute(stmt)).scalar_one_or_none()
        reply = bot.text if bot is not None and bot.meta.get("in_reply_to") == message.native_id else None
        ticket_no = None
        if existing.ticket_id is not None:
            ticket = await session.get(Ticket, existing.ticket_id)
            ticket_no = ticket.number if ticket is not None else None
        dialogue = bot.meta.get("dialogue") if reply is not None else None
        return Outcome("duplicate", reply, ticket_no, existing.id, dialogue=dialogue or None)

    async def take_in(self, session: AsyncSession, message: IntakeMessage, classification: Classification,
                      dialogue: Mapping[str, Any] | None = None) -> Outcome:
        """Store the message on its conversation and decide: event, emergency, follow-up, FAQ or ticket.
        ``dialogue``: the conversation's dialogue state (``gathering.Dialogue``), if the worker keeps one."""
        conv = await store.lock_conversation(session, message.channel, message.sender_id, message.received_at)
        talk = Dialogue.from_state(dialogue)
        attachments = [AttachmentInfo(a.filename, a.content_type, a.size, a.storage_key, a.kind)
                       for a in message.attachments]
        meta = {key: value for key, value in message.metadata.items() if key != "references"}
        msg_type = str(message.metadata.get("msg_type", "text"))
        off_hours = off_hours_note(self.directory, message.received_at)

        # A named ticket (its number in the subject, a reply to its mail) is joined only by its own
        # citizen: the same channel and sender, i.e. its conversation, and while it is open.  Anyone
        # else naming it gets a ticket of their own that refers to it (an operator may merge them):
        # never a message in, a reopening of, or the official reply under someone else's case.
        named = await self._named_ticket(session, message)
        if named is None and talk is not None:
            # The bot's open question names its ticket: the answer ("光明路口") is on that matter.
            asked = await store.ticket_by_number(session, talk.ticket_no)
            if asked is not None and asked.conversation_id == conv.id and asked.status == Status.GATHERING:
                named = asked
        foreign = named is not None and named.conversation_id != conv.id
        passed_over: Ticket | None = None  # the citizen's open ticket this message is not about
        if named is None or foreign or named.status not in OPEN_STATUSES:
            ticket, passed_over = await self._matter_of(session, conv, message, classification)
        else:
            ticket = named
        # A platform item or a written web message (网民留言, with its own title) is a case of its own,
        # even when the same citizen has another ticket open; so is a message naming another's ticket.
        standalone = (message.channel in STANDALONE_CHANNELS or bool(message.metadata.get("force_ticket"))
                      or foreign)
        if standalone:
            ticket = passed_over = None
        if foreign and named is not None:
            meta["refers_to_ticket"] = named.number

        def citizen_entry(target: Ticket | None):
            return store.add_entry(
                session, conversation=conv, ticket=target, author="citizen", channel=message.channel,
                text=message.text, channel_message_id=message.native_id, subject=message.subject, meta=meta,
                attachments=attachments, at=message.received_at,
            )

        async def bot_entry(target: Ticket | None, text: str, **extra: Any) -> Entry:
            return await store.add_entry(
                session, conversation=conv, ticket=target, author="bot", channel=message.channel, text=text,
                meta={"in_reply_to": message.native_id, **extra}, delivery_status="sent",
            )

        # Channel events (subscribe, unsubscribe) are recorded on the conversation only.
        if msg_type.startswith("event:"):
            entry = await citizen_entry(None)
            return Outcome("event", None, None, entry.id)

        if classification.emergency:
            reply = texts.emergency_reply(classification.emergency["number"], classification.emergency.get("kind", ""))
            if ticket is None:
                ticket = await self._new_ticket(session, conv, message, classification, urgent=True)
            else:
                if not ticket.urgent:
                    await store.update_fields(session, ticket, actor="bot", urgent=True)
                # An emergency is no time for a question: a number written here is taken as given.
                await self._attach_contact(session, ticket, message, text_phone=phone_in_text(message.text))
                # Nor for holding the ticket back from the operators.
                await hand_over(session, self.gatherer, ticket, "urgent", actor="bot")
            entry = await citizen_entry(ticket)
            await bot_entry(ticket, reply)
            await store.record_event(session, ticket, actor="bot", action="emergency_redirect",
                                     detail=dict(classification.emergency))
            return Outcome("emergency", reply, ticket.number, entry.id, dialogue={} if talk else None)

        entry = None
        if ticket is not None and ticket.status == Status.GATHERING:
            entry = await citizen_entry(ticket)
            turn = await self._gathering_turn(session, ticket, message, classification, talk, entry.id, bot_entry)
            if turn is not None:
                return turn
            # Not an answer (a note, a number to confirm): an ordinary follow-up; the question stays open.

        if ticket is not None:
            # A follow-up on an open ticket: the operator handles it; the bot only acknowledges.
            entry = entry or await citizen_entry(ticket)
            # A unit's answered ticket waits for the citizen's evaluation (一事一评), which decides
            # whether it goes back to the unit; a direct answer is reopened for the operators.
            if ticket.status == Status.ANSWERED and ticket.unit is None:
                await store.transition(session, ticket, Action.REOPEN, actor="citizen", note="群众补充诉求")
            await store.record_event(session, ticket, actor="citizen", action="followup",
                                     detail={"entry_id": entry.id})
            settled = await contact_details.settle(session, ticket, message.text, message.received_at)
            if settled is not None:  # 确认 / 不是 to the bot's question about a written number
                await bot_entry(ticket, settled[0])
                return Outcome("followup", settled[0], ticket.number, entry.id)
            ask = contact_details.to_confirm(ticket, message.channel, message.text, message.contact.phone)
            phone = await self._attach_contact(
                session, ticket, message, text_phone=contact_details.taken_as_given(message.channel, message.text))
            # Once an operator has answered the citizen, the conversation is theirs: the bot only
            # confirms receipt (no off-hours text, no FAQ answer) instead of talking over them.
            if await self._taken_over(session, ticket):
                reply = texts.human_receipt()
            else:
                reply = texts.followup_ack(ticket.number, off_hours)
            if phone:
                reply += texts.contact_recorded(mask_phone(phone) or phone)
            if ask:
                reply += contact_details.question(ask, message.channel)
                await bot_entry(ticket, reply, **contact_details.question_meta(ask, message.received_at))
            else:
                await bot_entry(ticket, reply)
            return Outcome("followup", reply, ticket.number, entry.id)

        if not message.text.strip() and not attachments:
            entry = await citizen_entry(None)
            reply = texts.empty_message()
            await bot_entry(None, reply)
            return Outcome("faq", reply, None, entry.id)

        # A web form message (网民留言) or a platform item always becomes a ticket.
        if classification.faq and not classification.handoff and not standalone:
            entry = await citizen_entry(None)
            await bot_entry(None, classification.faq["answer"])
            return Outcome("faq", classification.faq["answer"], None, entry.id)

        region, request_type, department = ticket_codes(self.directory, message.metadata, classification)
        asking = (not standalone and self.gatherer.would_ask(message, classification, region, department, request_type))
        ticket = await self._new_ticket(session, conv, message, classification,
                                        status=Status.GATHERING if asking else Status.PENDING_REVIEW)
        for field, value in self.gatherer.first_fields(message, ticket.region, classification.classified).items():
            setattr(ticket, field, value)
        entry = await citizen_entry(ticket)
        if foreign and named is not None:
            # Shown to operators on both tickets; nothing of either is shown to the other citizen.
            await store.record_event(session, ticket, actor="system", action="refers_to",
                                     to_value=named.number, detail={"entry_id": entry.id})
            await store.record_event(session, named, actor="system", action="referred_by",
                                     from_value=ticket.number, detail={"entry_id": entry.id})
        if classification.classified:
            await store.add_prediction(
                session, ticket, entry=entry, department=classification.department, region=classification.region,
                request_type=classification.request_type, intent=classification.intent,
                confidence=classification.confidence, alternatives=list(classification.alternatives),
                model_version=classification.model,
                request_type_alternatives=list(classification.request_type_alternatives),
            )
            reply = texts.ticket_created(ticket.number, ticket.deadline, off_hours)
        else:
            reply = texts.ticket_created_unclassified(ticket.number, off_hours)
        if passed_over is not None:
            reply = texts.new_matter(passed_over.number) + reply
        if not asking:
            if not self.gatherer.asks_on(message.channel) or standalone:
                # Mail, the national feed, a web form: no one to ask; the operator sees what is missing.
                ticket.gathering_gaps = self.gatherer.gaps(ticket, "one_shot") or None
            await bot_entry(ticket, reply)
            return Outcome("ticket", reply, ticket.number, entry.id)
        talk = Dialogue(ticket.number)
        question = self.gatherer.next_question(ticket, talk.asked, message.channel,
                                               self.gatherer.torn_between(classification))
        if question is None:
            await hand_over(session, self.gatherer, ticket, "not_asked", actor="bot")
            await bot_entry(ticket, reply)
            return Outcome("ticket", reply, ticket.number, entry.id)
        reply = (texts.new_matter(passed_over.number) if passed_over is not None else "")
        reply += texts.gathering_receipt(ticket.number) + question.text
        return await self._ask(ticket, talk, question, reply, message.received_at, entry.id, bot_entry, "ticket")

    async def _ask(self, ticket: Ticket, talk: Dialogue, question: Question, reply: str, at: datetime,
                   entry_id: int, bot_entry: Any, kind: str) -> Outcome:
        """Put the question to the citizen: the bot's entry (the question is on the timeline), the
        ticket held back until ``gathering_until``, and the dialogue state for the worker to keep."""
        talk.pending = question
        talk.asked.append(question.kind)
        ticket.gathering_until = at + self.gatherer.window
        state = talk.to_state(ticket.gathering_until)
        await bot_entry(ticket, reply, gather=question.kind, quick_replies=list(question.quick_replies),
                        dialogue=state)
        return Outcome(kind, reply, ticket.number, entry_id, dialogue=state, quick_replies=question.quick_replies)

    async def _gathering_turn(self, session: AsyncSession, ticket: Ticket, message: IntakeMessage,
                              classification: Classification, talk: Dialogue | None, entry_id: int,
                              bot_entry: Any) -> Outcome | None:
        """A citizen's message on a ticket the bot is gathering details for: an answer or a skip; None
        for something else (an ordinary follow-up; the question stays open)."""
        gatherer, at = self.gatherer, message.received_at
        if ticket.assignee is not None or await self._taken_over(session, ticket):
            # Human first: an operator took the ticket; the bot asks nothing more.
            await hand_over(session, gatherer, ticket, "operator", actor="bot")
            reply = texts.human_receipt()
            await bot_entry(ticket, reply)
            return Outcome("followup", reply, ticket.number, entry_id, dialogue={})
        if talk is None or talk.ticket_no != ticket.number or talk.pending is None:
            # The question expired (or its state was lost): the ticket goes on without the answer.
            await hand_over(session, gatherer, ticket, "unanswered", actor="bot")
            reply = texts.followup_ack(ticket.number, off_hours_note(self.directory, at))
            await bot_entry(ticket, reply)
            return Outcome("followup", reply, ticket.number, entry_id, dialogue={})
        question = talk.pending
        fields = gatherer.read_answer(question, message.text, classification, ticket)
        if fields is None:
            return None
        if not fields:
            if question.kind != CLARIFY:
                ticket.gathering_gaps = [*(ticket.gathering_gaps or []), {"slot": question.kind, "reason": "declined"}]
            reply = texts.gathering_skipped()
        elif question.kind == CLARIFY:
            before = ticket.department
            await store.update_fields(session, ticket, actor="citizen", **fields)
            await store.record_event(session, ticket, actor="citizen", action="clarified", field="department",
                                     from_value=before,
                                     to_value=ticket.department,
                                     detail={"question": question.text, "answer": message.text[:200]})
            reply = texts.gathering_noted()
        else:
            await store.update_fields(session, ticket, actor="citizen", **fields)
            await store.record_event(session, ticket, actor="citizen", action="gathered", field=question.kind,
                                     detail={"question": question.text, "answer": message.text[:200]})
            if question.kind in gatherer.missing_on(ticket):  # "郏县" without the street
                ticket.gathering_gaps = [*(ticket.gathering_gaps or []), {"slot": question.kind, "reason": "incomplete"}]
            reply = texts.gathering_noted()
        following = gatherer.next_question(ticket, talk.asked, message.channel)
        if following is not None:
            return await self._ask(ticket, talk, following, reply + following.text, at, entry_id, bot_entry,
                                   "followup")
        await hand_over(session, gatherer, ticket, "not_asked", actor="bot")
        reply = texts.gathering_done(ticket.number, off_hours_note(self.directory, at))
        await bot_entry(ticket, reply)
        return Outcome("followup", reply, ticket.number, entry_id, dialogue={})

    async def _matter_of(self, session: AsyncSession, conv: Conversation, message: IntakeMessage,
                         classification: Classification) -> tuple[Ticket | None, Ticket | None]:
        """(the citizen's open ticket this message is about, None) or (None, the open ticket it is not
        about: the new ticket's receipt names it).  The one rule for every channel."""
        stmt = (select(Ticket)
                .where(Ticket.conversation_id == conv.id, Ticket.status.in_([s.value for s in OPEN_STATUSES]))
                .order_by(Ticket.id.desc()))
        open_tickets = list((await session.execute(stmt)).scalars())
        if not open_tickets:
            return None, None
        # A ticket number in the text decides: it joins that ticket (an emergency one too: the
        # citizen chose it), and a number of none of the open ones is another matter.
        numbers = set(NUMBER_RE.findall(message.text))
        for ticket in open_tickets:
            if ticket.number in numbers:
                return ticket, None
        # An emergency record never absorbs a later message: the fire and the street light after
        # it are two cases for two units.
        emergencies = await self._emergency_ids(session, [ticket.id for ticket in open_tickets])
        calm = [ticket for ticket in open_tickets if ticket.id not in emergencies]
        passed_over = calm[0] if calm else open_tickets[0]
        if numbers:
            return None, passed_over
        for ticket in calm:
            if await self._same_matter(session, ticket, message, classification):
                return ticket, None
        return None, passed_over

    async def _same_matter(self, session: AsyncSession, ticket: Ticket, message: IntakeMessage,
                           classification: Classification) -> bool:
        if await self._answers_question(session, ticket, message.received_at):
            return True
        if not classification.department and not classification.intent:
            # The NLU is off (or read nothing): nothing says this is another matter, so the message
            # joins the latest open ticket as it always did; only a named other ticket parts them.
            return True
        stmt = select(Prediction.department, Prediction.intent).where(Prediction.ticket_id == ticket.id)
        predicted = (await session.execute(stmt)).all()
        departments = {code for code in [ticket.department, *(dept for dept, _ in predicted)] if code}
        families = {_intent_family(intent) for _, intent in predicted if intent}
        if not departments and not families:
            return True  # opened while the NLU was off: nothing to compare with
        if classification.department in departments or _intent_family(classification.intent) in families:
            return True
        # What the bot would answer itself (an FAQ, thanks) is for the operator who took over to
        # answer; another department's matter or an emergency is still a case of its own.
        return (not classification.department and not classification.emergency
                and await self._taken_over(session, ticket))

    async def _answers_question(self, session: AsyncSession, ticket: Ticket, at: datetime) -> bool:
        """Whether the bot or an operator asked the citizen something on this ticket shortly before."""
        stmt = select(Entry.text).where(
            Entry.ticket_id == ticket.id, Entry.author.in_(["bot", "operator"]), Entry.public.is_(True),
            Entry.created_at >= at - QUESTION_WINDOW, Entry.created_at <= at,
        )
        return any(mark in text for text in (await session.execute(stmt)).scalars() for mark in QUESTION_MARKS)

    async def _emergency_ids(self, session: AsyncSession, ticket_ids: list[int]) -> set[int]:
        """Which of these tickets are emergencies: urgent, or redirected to an emergency number."""
        stmt = select(TicketEvent.ticket_id).where(TicketEvent.ticket_id.in_(ticket_ids),
                                                   TicketEvent.action == "emergency_redirect")
        redirected = set((await session.execute(stmt)).scalars())
        urgent = set((await session.execute(
            select(Ticket.id).where(Ticket.id.in_(ticket_ids), Ticket.urgent.is_(True)))).scalars())
        return redirected | urgent

    async def _taken_over(self, session: AsyncSession, ticket: Ticket) -> bool:
        """Whether an operator has written to the citizen on this ticket (an internal note is not that)."""
        stmt = select(Entry.id).where(Entry.ticket_id == ticket.id, Entry.author == "operator",
                                      Entry.public.is_(True)).limit(1)
        return (await session.execute(stmt)).scalar_one_or_none() is not None

    async def _attach_contact(self, session: AsyncSession, ticket: Ticket, message: IntakeMessage, *,
                              text_phone: str | None = None) -> str | None:
        """Fill in the contact details the ticket lacks from this later message's contact fields
        (a number written in the text only when ``text_phone`` says so: elsewhere the citizen
        confirms it first, ``contact_details``), audited; the phone number newly recorded, if any."""
        contact = message.contact
        given = {
            "citizen_phone": contact.phone or text_phone,
            "citizen_name": contact.name,
            "citizen_email": contact.email,
        }
        missing = {field: value for field, value in given.items() if value and not getattr(ticket, field)}
        if not missing:
            return None
        await store.update_fields(session, ticket, actor="citizen", **missing)
        return missing.get("citizen_phone")

    async def _named_ticket(self, session: AsyncSession, message: IntakeMessage) -> Ticket | None:
        """A ticket the citizen explicitly refers to: its number, or a message id of its thread."""
        for value in (message.metadata.get("ticket_no"), message.thread_key, message.subject):
            if value and (match := NUMBER_RE.search(str(value))):
                ticket = await store.ticket_by_number(session, match.group(0))
                if ticket is not None:
                    return ticket
        refs = [ref for ref in [message.thread_key, *(message.metadata.get("references") or [])] if ref]
        if not refs:
            return None
        stmt = (
            select(Ticket)
            .join(Entry, Entry.ticket_id == Ticket.id)
            .where(Entry.channel == message.channel, Entry.channel_message_id.in_(refs))
            .order_by(Entry.id.desc())
            .limit(1)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def _new_ticket(self, session: AsyncSession, conv: Conversation, message: IntakeMessage,
                          classification: Classification, *, urgent: bool = False,
                          status: Status = Status.PENDING_REVIEW) -> Ticket:
        directory = self.directory
        region, request_type, department = ticket_codes(self.directory, message.metadata, classification)
        contact = message.contact
        received_at = message.received_at
        number = await self.mint.mint(received_at) if self.mint is not None else None
        return await store.create_ticket(
            session,
            conversation=conv,
            channel=message.channel,
            actor="bot" if classification.classified else "system",
            title=_title(message),
            contact=ContactInfo(contact.name, contact.phone or phone_in_text(message.text), contact.wechat_openid,
                                contact.email),
            request_type=request_type,
            department=department,
            region=region,
            urgent=urgent,
            status=status,
            classification="predicted" if (department or region or request_type) else "unclassified",
            origin_hotline=message.metadata.get("origin_hotline"),
            deadline=deadline_for(directory, request_type, received_at, urgent=urgent),
            external_deadline=_external_deadline(message.metadata.get("deadline")),
            at=received_at,
            number=number,
        )
