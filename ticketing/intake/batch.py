"""New tickets for many messages in one transaction, with set-based statements.

The plain case of the intake — a citizen without an open ticket writes about something new — is
most of the traffic, and the rules decide it without looking anything up: a new ticket,
pre-classified, and a receipt.  Here a whole batch of such messages costs a fixed number of
statements, whatever its size: one conversation upsert (which also locks the citizens' rows, as
``store.lock_conversation`` does for one), one open-ticket lookup, one number reservation per
day, and one multi-row INSERT each for tickets, citizen entries, bot entries, events and
predictions.  A new web-chat or WeChat ticket the bot has a question about (issue #19) is one of
them too: created in ``gathering`` with the question as the bot's entry and the dialogue state in
the outcome, as the rules do it.

Why SQLAlchemy Core and not asyncpg directly: the same statements run on SQLite and PostgreSQL
through the engine (and the transaction) the rest of the store uses; both dialects do multi-row
``INSERT … RETURNING`` with rows returned in parameter order (``sort_by_parameter_order``) and
``INSERT … ON CONFLICT``.  What made one message cost about twelve round trips was the ORM's
unit of work (a flush per object, a dedupe read, a rollback), none of which is used here;
asyncpg's own ``copy``/``executemany`` would save little more and need a second code path for
SQLite.

Everything else — an emergency, an FAQ answer, a channel event, a message that names or threads
a ticket, one with attachments, one of a citizen who has an open ticket (a possible follow-up) —
is left to :meth:`ticketing.intake.rules.IntakeRules.take_in`, message by message, which decides
exactly as before.  :func:`plain` says which is which; ``take_in`` below answers ``None`` for a
message it finds is not plain after all (an open ticket appeared meanwhile).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import Select, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from config.directory import Directory
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Conversation, Entry, Prediction, Ticket, TicketEvent
from ticketing.intake import texts
from ticketing.intake.contact_details import phone_in_text
from ticketing.intake.contract import Classification, IntakeMessage, Outcome
from ticketing.intake.gathering import Dialogue, Gatherer, Question
from ticketing.intake.hints import ticket_codes
from ticketing.intake.off_hours import off_hours_note
from ticketing.intake.rules import STANDALONE_CHANNELS, _external_deadline, _title
from ticketing.tickets.deadlines import deadline_for
from ticketing.tickets.lifecycle import OPEN_STATUSES, Status
from ticketing.tickets.numbering import NUMBER_RE, NumberMint, local_day, reserve_numbers

TICKETS = Ticket.__table__
ENTRIES = Entry.__table__
EVENTS = TicketEvent.__table__
PREDICTIONS = Prediction.__table__
CONVERSATIONS = Conversation.__table__


def _upsert_conversation(dialect: Any) -> Any:
    """Get or create one citizen's conversation, returning its id (PostgreSQL's or SQLite's ON CONFLICT)."""
    stmt = dialect.insert(CONVERSATIONS)
    return stmt.on_conflict_do_update(
        index_elements=[CONVERSATIONS.c.channel, CONVERSATIONS.c.sender_id],
        set_={"last_message_at": stmt.excluded.last_message_at},
    ).returning(CONVERSATIONS.c.id, CONVERSATIONS.c.channel, CONVERSATIONS.c.sender_id)


# By dialect name; SQLite's is the embedded default's (as anywhere else that is not PostgreSQL).
_UPSERT_CONVERSATION = {"postgresql": _upsert_conversation(postgresql), "sqlite": _upsert_conversation(sqlite)}


def _standalone(message: IntakeMessage) -> bool:
    return message.channel in STANDALONE_CHANNELS or bool(message.metadata.get("force_ticket"))


def plain(message: IntakeMessage, classification: Classification) -> bool:
    """Whether the rules open a new ticket for this message unless its citizen has one open."""
    meta = message.metadata
    if str(meta.get("msg_type", "text")).startswith("event:") or classification.emergency:
        return False
    if message.attachments or not message.text.strip():
        return False
    # A named ticket (``IntakeRules._named_ticket``) needs the rules' lookups.
    if message.thread_key or meta.get("references") or meta.get("ticket_no"):
        return False
    if message.subject and NUMBER_RE.search(message.subject):
        return False
    return not (classification.faq and not classification.handoff and not _standalone(message))


@dataclass(frozen=True)
class _Planned:
    """One message of the batch with what the rules make of it."""

    index: int
    message: IntakeMessage
    classification: Classification
    conversation_id: int
    # (region, request type, department) from the hints and the NLU (``ticket_codes``), and what the
    # message's own words give (``Gatherer.first_fields``): read once, by the question and the row.
    codes: tuple[str | None, str | None, str | None]
    found: dict[str, str]
    # The bot's first question when the ticket lacks what its unit needs (``ticketing.intake.gathering``).
    question: Question | None = None


def stored_query(messages: Sequence[IntakeMessage]) -> Select[tuple[str, str]] | None:
    """The entries already stored under the messages' channels and native ids.

    Both columns of the unique index, each as one array (``= ANY``): filtering on the native id
    alone could not use that index, and a list of (channel, id) pairs is planned as a filter
    evaluated on every row; either way each batch read the whole entries table and the worker
    slowed from 1,500 to 440 tickets/s as it grew to 50,000 rows.  A pair of one message's
    channel and another's id may come back too: the caller keeps the pairs it asked for."""
    if not messages:
        return None
    channels = sorted({message.channel for message in messages})
    ids = sorted({message.native_id for message in messages})
    return (select(Entry.channel, Entry.channel_message_id)
            .where(Entry.channel.in_(channels), Entry.channel_message_id.in_(ids)))


class BatchIntake:
    """The plain messages of a batch in the caller's transaction (nothing is committed here)."""

    def __init__(self, directory: Directory, mint: NumberMint | None) -> None:
        self.directory = directory
        self.gatherer = Gatherer(directory)
        # PostgreSQL: numbers from a connection outside the pool, autocommitted (numbering.py).
        self.mint = mint

    async def stored(self, executor: AsyncSession | AsyncConnection,
                     messages: Sequence[IntakeMessage]) -> set[tuple[str, str]]:
        """(channel, native id) of the messages stored before: redeliveries, for the rules."""
        stmt = stored_query(messages)
        if stmt is None:
            return set()
        asked = {(message.channel, message.native_id) for message in messages}
        # The query may also return an id of this batch stored under another of its channels.
        return {(channel, native_id) for channel, native_id in await executor.execute(stmt)} & asked

    async def take_in(self, session: AsyncSession,
                      batch: Sequence[tuple[IntakeMessage, Classification]]) -> list[Outcome | None]:
        """A ticket for each plain message (:func:`plain`; one message per citizen); ``None`` for a
        message whose citizen turned out to have an open ticket: it goes to the rules."""
        conn = await session.connection()
        conversations = await self._upsert_conversations(conn, [message for message, _ in batch])
        busy = await self._with_open_tickets(conn, list(conversations.values()))
        planned = [
            self._plan(i, message, classification, conversations[(message.channel, message.sender_id)])
            for i, (message, classification) in enumerate(batch)
            if _standalone(message) or conversations[(message.channel, message.sender_id)] not in busy
        ]
        # The bot's first question, decided as IntakeRules.take_in does; a message the bot would ask
        # about but finds no question for goes to the rules (which hand the ticket over at once).
        decided = [(item, *self._first_question(item)) for item in planned]
        planned = [replace(item, question=question) for item, asks, question in decided if not asks or question]
        outcomes: list[Outcome | None] = [None] * len(batch)
        if not planned:
            return outcomes
        numbers = await self._numbers(session, [item.message for item in planned])
        tickets = [self._ticket_row(item, number) for item, number in zip(planned, numbers)]
        ticket_ids = (await conn.execute(
            insert(TICKETS).returning(TICKETS.c.id, sort_by_parameter_order=True), tickets)).scalars().all()

        now = utcnow()
        replies = [self._reply(item, ticket) for item, ticket in zip(planned, tickets)]
        # The citizens' entries, then the bot's answers, in one statement: ids follow the rows'
        # order, so each answer comes after its message (``IntakeRules.redelivered`` relies on it).
        entry_rows = [self._citizen_row(item, ticket_id) for item, ticket_id in zip(planned, ticket_ids)]
        dialogues = [self._dialogue(item, ticket) for item, ticket in zip(planned, tickets)]
        entry_rows += [
            _entry_row(conversation_id=item.conversation_id, ticket_id=ticket_id, author="bot",
                       channel=item.message.channel, text=reply,
                       meta={"in_reply_to": item.message.native_id, **_question_meta(item.question, dialogue)},
                       delivery_status="sent", created_at=now)
            for item, ticket_id, reply, dialogue in zip(planned, ticket_ids, replies, dialogues)
        ]
        entry_ids = (await conn.execute(
            insert(ENTRIES).returning(ENTRIES.c.id, sort_by_parameter_order=True), entry_rows)).scalars().all()

        events, predictions = [], []
        for item, ticket, ticket_id, entry_id, reply, dialogue in zip(planned, tickets, ticket_ids, entry_ids, replies,
                                                                       dialogues):
            message, classification = item.message, item.classification
            if classification.classified:
                predictions.append({
                    "ticket_id": ticket_id, "entry_id": entry_id, "department": classification.department,
                    "region": classification.region, "request_type": classification.request_type,
                    "intent": classification.intent, "confidence": classification.confidence,
                    "alternatives": list(classification.alternatives), "model_version": classification.model,
                    "request_type_alternatives": list(classification.request_type_alternatives) or None,
                    "created_at": now,
                })
            events.append({
                "ticket_id": ticket_id, "at": now, "actor": "bot" if classification.classified else "system",
                "action": "created", "field": "status", "from_value": None, "to_value": ticket["status"],
                "public": True, "detail": {"channel": message.channel},
            })
            outcomes[item.index] = Outcome("ticket", reply, ticket["number"], entry_id, dialogue=dialogue,
                                           quick_replies=item.question.quick_replies if item.question else ())
        await conn.execute(insert(EVENTS), events)
        if predictions:
            await conn.execute(insert(PREDICTIONS), predictions)
        return outcomes

    async def _upsert_conversations(self, conn: AsyncConnection,
                                    messages: Sequence[IntakeMessage]) -> dict[tuple[str, str], int]:
        """Get or create every citizen's conversation, locked for this transaction, in one statement.

        Rows go in a fixed order so two workers upserting overlapping citizens lock them in the
        same order instead of deadlocking."""
        latest: dict[tuple[str, str], Any] = {}
        for message in messages:
            key = (message.channel, message.sender_id)
            latest[key] = max(latest.get(key, message.received_at), message.received_at)
        rows = [{"channel": channel, "sender_id": sender, "created_at": at, "last_message_at": at}
                for (channel, sender), at in sorted(latest.items())]
        # Executed with the rows as parameters: SQLAlchemy's insertmanyvalues still sends them as one
        # statement (in their order), and the statement is compiled once.  `.values(rows)` compiled a
        # new statement for every batch: 120 µs of the worker's CPU a row against 16-23 (100 rows).
        stmt = _UPSERT_CONVERSATION.get(conn.dialect.name, _UPSERT_CONVERSATION["sqlite"])
        return {(channel, sender): conv_id for conv_id, channel, sender in await conn.execute(stmt, rows)}

    async def _with_open_tickets(self, conn: AsyncConnection, conversation_ids: list[int]) -> set[int]:
        stmt = (select(TICKETS.c.conversation_id).distinct()
                .where(TICKETS.c.conversation_id.in_(conversation_ids),
                       TICKETS.c.status.in_([status.value for status in OPEN_STATUSES])))
        return set((await conn.execute(stmt)).scalars())

    async def _numbers(self, session: AsyncSession, messages: Sequence[IntakeMessage]) -> list[str]:
        """One number per message, each block reserved with one statement per local day."""
        by_day: dict[date, list[int]] = defaultdict(list)
        for i, message in enumerate(messages):
            by_day[local_day(message.received_at)].append(i)
        numbers: list[str] = [""] * len(messages)
        for day, indexes in by_day.items():
            if self.mint is not None:
                block = await self.mint.reserve(day, len(indexes))
            else:
                block = await reserve_numbers(session, day, len(indexes))
            for i, number in zip(indexes, block):
                numbers[i] = number
        return numbers

    def _plan(self, index: int, message: IntakeMessage, classification: Classification,
              conversation_id: int) -> _Planned:
        codes = ticket_codes(self.directory, message.metadata, classification)
        found = self.gatherer.first_fields(message, codes[0], classification.classified)
        return _Planned(index, message, classification, conversation_id, codes, found)

    def _first_question(self, item: _Planned) -> tuple[bool, Question | None]:
        """(whether the bot asks about this message's ticket, its first question)."""
        message, classification, found = item.message, item.classification, item.found
        if _standalone(message):
            return False, None
        region, request_type, department = item.codes
        if not self.gatherer.would_ask(message, classification, region, department, request_type):
            return False, None
        # The ticket as the rules would hold it when they choose the question (not added to the session).
        draft = Ticket(channel=message.channel, request_type=request_type, department=department,
                       region=found.get("region", region), location_detail=found.get("location_detail"),
                       event_time=found.get("event_time"), citizen_phone=message.contact.phone or phone_in_text(message.text))
        return True, self.gatherer.next_question(draft, [], message.channel, self.gatherer.torn_between(classification))

    def _dialogue(self, item: _Planned, ticket: dict[str, Any]) -> dict[str, Any] | None:
        """The dialogue state of a ticket the bot asks about (kept by the worker after the commit)."""
        if item.question is None:
            return None
        talk = Dialogue(ticket["number"])
        talk.pending = item.question
        talk.asked.append(item.question.kind)
        return talk.to_state(ticket["gathering_until"])

    def _ticket_row(self, item: _Planned, number: str) -> dict[str, Any]:
        """The ticket ``IntakeRules._new_ticket`` would create (same hints, checks and deadline)."""
        directory, message, found = self.directory, item.message, item.found
        region, request_type, department = item.codes
        contact, at = message.contact, message.received_at
        external = _external_deadline(message.metadata.get("deadline"))
        deadline = deadline_for(directory, request_type, at, urgent=False)
        region = found.get("region", region)
        return {
            "number": number, "conversation_id": item.conversation_id, "channel": message.channel,
            "origin_hotline": message.metadata.get("origin_hotline"),
            "title": (_title(message) or "")[:200] or None,
            "request_type": request_type, "department": department, "region": region,
            "classification": "predicted" if (department or region or request_type) else "unclassified",
            "urgent": False, "status": (Status.GATHERING if item.question else Status.PENDING_REVIEW).value,
            "deadline": external or deadline, "external_deadline": external,
            "citizen_name": contact.name, "citizen_phone": contact.phone or phone_in_text(message.text),
            "citizen_wechat_openid": contact.wechat_openid, "citizen_email": contact.email,
            "assignee": None, "unit": None, "created_at": at, "updated_at": at, "closed_at": None,
            "location_detail": found.get("location_detail"), "event_time": found.get("event_time"),
            "gathering_until": at + self.gatherer.window if item.question else None,
            "gathering_gaps": self._gaps(item, request_type, department, region, found),
        }

    def _gaps(self, item: _Planned, request_type: str | None, department: str | None, region: str | None,
              found: dict[str, str]) -> list[dict[str, str]] | None:
        """What a ticket of a channel the bot does not ask on lacks (``IntakeRules`` flags the same);
        a ticket the bot asks about has no gaps yet (its questions may fill them)."""
        message = item.message
        if self.gatherer.asks_on(message.channel) and not _standalone(message):
            return None
        missing = self.gatherer.missing(
            message.channel, request_type, department, region=region, location_detail=found.get("location_detail"),
            event_time=found.get("event_time"), phone=message.contact.phone or phone_in_text(message.text))
        return [{"slot": slot, "reason": "one_shot"} for slot in missing] or None

    def _reply(self, item: _Planned, ticket: dict[str, Any]) -> str:
        if item.question is not None:
            return texts.gathering_receipt(ticket["number"]) + item.question.text
        off_hours = off_hours_note(self.directory, item.message.received_at)
        if item.classification.classified:
            return texts.ticket_created(ticket["number"], ticket["deadline"], off_hours)
        return texts.ticket_created_unclassified(ticket["number"], off_hours)

    @staticmethod
    def _citizen_row(item: _Planned, ticket_id: int) -> dict[str, Any]:
        message = item.message
        meta = {key: value for key, value in message.metadata.items() if key != "references"}
        return _entry_row(
            conversation_id=item.conversation_id, ticket_id=ticket_id, author="citizen", channel=message.channel,
            text=message.text, channel_message_id=message.native_id, subject=message.subject, meta=meta,
            created_at=message.received_at)


def _question_meta(question: Question | None, dialogue: dict[str, Any] | None) -> dict[str, Any]:
    """What the bot's entry of a question carries (``IntakeRules._ask`` stores the same)."""
    if question is None:
        return {}
    return {"gather": question.kind, "quick_replies": list(question.quick_replies), "dialogue": dialogue}


def _entry_row(*, conversation_id: int, ticket_id: int | None, author: str, channel: str, text: str,
               meta: dict[str, Any], created_at: Any, channel_message_id: str | None = None,
               subject: str | None = None, delivery_status: str | None = None) -> dict[str, Any]:
    # Every row names every column: rows of one shape go out as one multi-row INSERT.
    return {
        "conversation_id": conversation_id, "ticket_id": ticket_id, "author": author, "author_name": None,
        "channel": channel, "channel_message_id": channel_message_id, "text": text, "subject": subject,
        "public": True, "delivery_status": delivery_status, "delivery_detail": None, "created_at": created_at,
        "meta": meta,
    }
