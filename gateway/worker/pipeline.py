"""One inbound message through the intake: ask the NLU, apply the intake rules, commit, announce.

The decision itself (event, emergency, follow-up, FAQ or ticket) is ``ticketing.intake``'s.
This module holds what surrounds it: the NLU call happens before the transaction (no lock is
held over an HTTP call); the database work of one message is one transaction; the reply is
announced over Redis only after the commit.

A message may carry ``reply_by`` in its metadata (epoch seconds; the WeChat connector sets it: its
citizen's answer is due within WeChat's window). Its NLU call then has to start within ``NLU_WAIT``
and by that time less ``REPLY_MARGIN``: a burst larger than the NLU can take in time leaves the rest
unclassified, with their receipts on time, and the backfill (reclassify.py) classifies them
afterwards. ``NLU_WAIT`` also bounds a pass (the messages read meanwhile wait for the next one),
so it is short: the NLU stays busy with what it can take, and the rest is answered at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.directory import Directory
from connectors.base import InboundMessage
from gateway.infra.keys import RedisKeys
from gateway.infra.metrics import Metrics
from gateway.infra.replies import ReplyBus
from gateway.worker.dialogue import DialogueStore
from nlu.client import NluClient, NluResult
from nlu.thresholds import DEFAULT as THRESHOLDS
from ticketing.db.models.tickets import Entry
from ticketing.intake.batch import BatchIntake, plain
from ticketing.intake.contract import Classification, Outcome
from ticketing.intake.rules import IntakeRules

log = logging.getLogger(__name__)

# Outcomes an operator has to see at once in the console's live queue.
CONSOLE_EVENTS = frozenset({"ticket", "followup", "emergency"})
# Time kept after the NLU call for its own answer, the commit and the announcement.
REPLY_MARGIN = 0.5
# The longest a message with an answer due waits for its turn at the NLU.
NLU_WAIT = 1.0
# How long the first classified message of a group waits for others before they are committed.
GROUP_LINGER = 0.15

Committed = Callable[[list[tuple[int, Outcome]]], Awaitable[None]]


def nlu_deadline(msg: InboundMessage) -> float | None:
    """The ``time.monotonic()`` by which the message's NLU call must start, from its ``reply_by``."""
    reply_by = msg.metadata.get("reply_by")
    if not isinstance(reply_by, (int, float)) or isinstance(reply_by, bool):
        return None
    now = time.monotonic()
    return min(now + (float(reply_by) - time.time()) - REPLY_MARGIN, now + NLU_WAIT)


def torn_between(alternatives: Sequence[dict[str, Any]], margin: float = THRESHOLDS.department_margin
                 ) -> tuple[str, ...]:
    """The two best departments when their confidences are within ``margin`` (nlu/thresholds.py)."""
    if len(alternatives) < 2:
        return ()
    first, second = alternatives[0], alternatives[1]
    try:
        close = float(first["confidence"]) - float(second["confidence"]) < margin
    except (KeyError, TypeError, ValueError):
        return ()
    return (str(first["code"]), str(second["code"])) if close else ()


def classification_of(result: NluResult) -> Classification:
    """The part of an NLU result the intake acts on."""
    intent = result.intent or {}
    return Classification(
        handoff=bool(result.handoff),
        department=result.department,
        region=result.region,
        request_type=result.request_type,
        alternatives=tuple(result.department_alternatives or ()),
        request_type_alternatives=tuple(result.request_type_alternatives or ()),
        intent=intent.get("name"),
        confidence=intent.get("confidence"),
        emergency=result.emergency,
        faq=result.faq,
        model=result.model,
        torn=torn_between(result.department_alternatives or []) if result.department else (),
    )


class Pipeline:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        replies: ReplyBus,
        directory: Directory,
        metrics: Metrics,
        nlu: NluClient | None = None,
        keys: RedisKeys | None = None,
    ) -> None:
        self.sessions = sessions
        self.replies = replies
        self.directory = directory
        self.dialogues = DialogueStore(replies.redis, keys or RedisKeys("hotline"))
        self.metrics = metrics
        self.nlu = nlu
        self.intake = IntakeRules(sessions, directory)
        self.batch = BatchIntake(directory, self.intake.mint)

    async def aclose(self) -> None:
        await self.intake.aclose()

    async def classify(self, text: str, deadline: float | None = None) -> Classification:
        if self.nlu is None or not text.strip():
            return Classification()
        started = time.perf_counter()
        result = await self.nlu.parse(text, deadline=deadline)
        self.metrics.nlu_seconds.observe(time.perf_counter() - started)
        return classification_of(result)

    async def process_batch(self, messages: Sequence[InboundMessage], committed: Committed | None = None
                            ) -> list[tuple[Outcome | None, Classification | None]]:
        """Messages of different citizens: the plain ones (``ticketing.intake.batch.plain``) stored in
        set-based transactions; for each message its outcome, or ``None`` when it is for :meth:`process`
        (with the classification already asked for it, if any).  Nothing is announced here:
        :meth:`stage_announcement` after the commit.

        The NLU answers one message after the other, so the plain messages are committed in groups as
        their classifications come in (all those ready at once in one transaction): the first ones
        are not held back until the slowest parse of the pass. ``committed`` is awaited after each
        commit with that group's ``(index, outcome)`` pairs (to announce them and acknowledge)."""
        # Checked first so redelivered messages cost no NLU call (the rules answer them); one
        # autocommitted read, no transaction to open and roll back.
        async with self.sessions.kw["bind"].connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            stored = await self.batch.stored(conn, messages)
        fresh = [i for i, msg in enumerate(messages) if (msg.channel, msg.native_id) not in stored]
        # Every NLU call of the batch at once, before any transaction.
        asked = {asyncio.ensure_future(self.classify(messages[i].text, nlu_deadline(messages[i]))): i for i in fresh}
        classifications: dict[int, Classification] = {}
        outcomes: dict[int, Outcome | None] = {}
        try:
            while asked:
                done, _ = await asyncio.wait(asked, return_when=asyncio.FIRST_COMPLETED)
                if asked.keys() - done:
                    # The NLU answers one by one: gather what comes in a short while into one group
                    # (a transaction and a number block each), at little cost to the first one's reply.
                    more, _ = await asyncio.wait(asked.keys() - done, timeout=GROUP_LINGER)
                    done |= more
                ready = []
                for task in done:
                    i = asked.pop(task)
                    classifications[i] = task.result()
                    ready.append(i)
                ready.sort()
                chosen = [i for i in ready if plain(messages[i], classifications[i])]
                if chosen:
                    outcomes.update(await self._take_in(messages, chosen, classifications, committed))
        finally:
            for task in asked:
                task.cancel()
        return [(outcomes.get(i), classifications.get(i)) for i in range(len(messages))]

    async def _take_in(self, messages: Sequence[InboundMessage], chosen: list[int],
                       classifications: dict[int, Classification], committed: Committed | None
                       ) -> dict[int, Outcome | None]:
        """One group of plain messages in one transaction. A failed group is left to :meth:`process`
        one by one (outcome ``None``), so one poison message or a lost connection sinks no other group."""
        try:
            async with self.sessions() as session, session.begin():
                results = await self.batch.take_in(session, [(messages[i], classifications[i]) for i in chosen])
        except Exception as exc:
            log.warning("batch of %d plain messages failed (%r); they go one by one", len(chosen), exc)
            return {}
        outcomes = dict(zip(chosen, results))
        for i, outcome in outcomes.items():
            if outcome is not None:
                self.metrics.processed.labels(messages[i].channel, outcome.kind).inc()
        if committed is not None:
            await committed([(i, outcome) for i, outcome in outcomes.items() if outcome is not None])
        return outcomes

    async def process(self, msg: InboundMessage, classification: Classification | None = None) -> Outcome:
        async with self.sessions() as session:
            # Checked first so a redelivered message costs no NLU call.
            if (existing := await self.intake.stored_entry(session, msg)) is not None:
                return await self._redeliver(session, msg, existing)
            await session.rollback()  # hold no snapshot while the NLU thinks
            if classification is None:
                classification = await self.classify(msg.text, nlu_deadline(msg))
            # Read before the transaction: the worker takes one message per citizen at a time.
            dialogue = await self.dialogues.get(msg.channel, msg.sender_id)
            try:
                async with session.begin():
                    outcome = await self.intake.take_in(session, msg, classification, dialogue)
            except IntegrityError:
                # A concurrent worker stored the same channel message first.
                existing = await self.intake.stored_entry(session, msg)
                if existing is None:
                    raise
                return await self._redeliver(session, msg, existing)
        self.metrics.processed.labels(msg.channel, outcome.kind).inc()
        await self._announce(msg, outcome)
        return outcome

    async def _redeliver(self, session: AsyncSession, msg: InboundMessage, existing: Entry) -> Outcome:
        """The message was stored before (a retry): announce the stored reply again."""
        outcome = await self.intake.redelivered(session, msg, existing)
        if outcome.reply is not None:
            await self.replies.deliver(msg.channel, msg.native_id, outcome.reply, outcome.ticket_no)
        if outcome.dialogue:  # the question asked then, if still open (the first try died before keeping it)
            async with self.replies.redis.pipeline(transaction=False) as pipe:
                self.dialogues.stage(pipe, msg.channel, msg.sender_id, outcome.dialogue)
                await pipe.execute()
        self.metrics.duplicates.labels(msg.channel).inc()
        return outcome

    async def _announce(self, msg: InboundMessage, outcome: Outcome) -> None:
        async with self.replies.redis.pipeline(transaction=False) as pipe:
            self.stage_announcement(pipe, msg, outcome)
            await pipe.execute()

    def stage_announcement(self, pipe: Any, msg: InboundMessage, outcome: Outcome) -> None:
        """Queue the reply and the live events of a committed outcome on a caller's Redis pipeline."""
        replies = self.replies
        self.dialogues.stage(pipe, msg.channel, msg.sender_id, outcome.dialogue)
        if outcome.reply is not None:
            replies.stage_delivery(pipe, msg.channel, msg.native_id, outcome.reply, outcome.ticket_no)
        if msg.channel == "web" and outcome.reply is not None:
            event = {"type": "message", "author": "bot", "text": outcome.reply, "ticket_no": outcome.ticket_no,
                     "kind": outcome.kind, "quick_replies": list(outcome.quick_replies)}
            replies.stage_event(pipe, replies.session_topic(msg.sender_id), event)
        if outcome.kind in CONSOLE_EVENTS:
            replies.stage_event(pipe, replies.console_topic,
                                {"type": outcome.kind, "ticket_no": outcome.ticket_no, "channel": msg.channel})
