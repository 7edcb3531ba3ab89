"""Tickets opened while the NLU was away get its pre-classification once it answers.

While Rasa trains, loads or is down, the pipeline stores every message as an unclassified ticket
(the citizen already has the receipt). Each process running the worker checks the NLU every
``CHECK_SECONDS``; when it answers after not answering (and every ``RESCAN_SECONDS`` while it answers,
for tickets a slow parse left unclassified), one process, under a Redis lock, re-runs the NLU on the
first message of each such ticket and applies the result (ticketing.tickets.classification): the
department, region and request type, a prediction, and an audited 机器预分类（补） event. An emergency
found so is flagged urgent and announced on the operators' console. Once per ticket; a ticket an
operator classified meanwhile is left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from aiohttp import web
from redis.exceptions import LockError

from gateway.infra.replies import REPLIES
from gateway.infra.resources import DIRECTORY, KEYS, NLU, REDIS, SESSIONS, SETTINGS
from gateway.worker.background import background_task, stopped_within
from gateway.worker.pipeline import classification_of
from ticketing.intake.contract import Classification
from ticketing.tickets.classification import MachineClassification, awaiting_backfill, backfill_classification

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0
RESCAN_SECONDS = 60.0
BATCH = 50  # tickets per transaction-free round (each ticket commits on its own)
LOCK_SECONDS = 120.0  # renewed per ticket; a process that died holding it blocks two minutes at most


@dataclass
class ReclassifyResult:
    locked_out: bool = False
    classified: int = 0
    urgent: int = 0
    looked_at: int = 0


class Reclassifier:
    def __init__(self, app: web.Application, *, check_seconds: float = CHECK_SECONDS,
                 rescan_seconds: float = RESCAN_SECONDS) -> None:
        self.app = app
        self.check_seconds = check_seconds
        self.rescan_seconds = rescan_seconds
        self.lock_key = app[KEYS].key("nlu", "reclassify-lock")

    async def run(self, stop: asyncio.Event) -> None:
        answered_before = False
        last_pass = 0.0
        while not stop.is_set():
            try:
                nlu = self.app[NLU]
                answering = bool(nlu.base_url) and await nlu.healthy()
                if answering and (not answered_before or time.monotonic() - last_pass >= self.rescan_seconds):
                    last_pass = time.monotonic()
                    result = await self.run_once()
                    if result.looked_at:
                        log.info("NLU back: %d ticket(s) looked at again, %d classified, %d urgent",
                                 result.looked_at, result.classified, result.urgent)
                answered_before = answering
            except Exception:  # noqa: BLE001 - Redis or the database down: the next check tries again
                log.exception("re-classification failed; retrying in %ss", self.check_seconds)
            if await stopped_within(stop, self.check_seconds):
                return

    async def run_once(self) -> ReclassifyResult:
        """One pass over every ticket awaiting the NLU, unless another process holds the lock."""
        lock = self.app[REDIS].lock(self.lock_key, timeout=LOCK_SECONDS, blocking=False, thread_local=False)
        if not await lock.acquire():
            return ReclassifyResult(locked_out=True)
        result = ReclassifyResult()
        try:
            while True:
                async with self.app[SESSIONS]() as session:
                    batch = await awaiting_backfill(session, limit=BATCH)
                if not batch:
                    break
                progressed = False
                for ticket_id, text in batch:
                    done = await self._one(ticket_id, text, result)
                    progressed = progressed or done
                    await lock.extend(LOCK_SECONDS, replace_ttl=True)
                if not progressed:
                    break  # the NLU stopped answering mid-way: the next pass takes the rest
        finally:
            with contextlib.suppress(LockError):  # it lapsed, or Redis is gone: it expires by itself
                await lock.release()
        return result

    async def _one(self, ticket_id: int, text: str, result: ReclassifyResult) -> bool:
        """Whether the NLU answered for this ticket (and its answer was applied)."""
        if text.strip():
            parsed = await self.app[NLU].parse(text)
            if parsed.intent is None:
                return False  # Rasa did not answer: keep the ticket for the next pass
            found = classification_of(parsed)
        else:
            found = Classification()  # pictures only: nothing for the NLU, but looked at
        machine = MachineClassification(
            department=found.department, region=found.region, request_type=found.request_type,
            intent=found.intent, confidence=found.confidence, alternatives=found.alternatives,
            request_type_alternatives=found.request_type_alternatives, model=found.model, emergency=found.emergency)
        async with self.app[SESSIONS]() as session, session.begin():
            ticket = await backfill_classification(session, ticket_id, self.app[DIRECTORY], machine)
            changed = ticket is not None and ticket.classification == "predicted"
            urgent = ticket is not None and bool(machine.emergency) and ticket.urgent
            number, channel = (ticket.number, ticket.channel) if ticket is not None else (None, None)
        result.looked_at += 1
        result.classified += int(changed)
        if urgent:
            result.urgent += 1
            # The citizen has had the receipt long ago: operators must see this one now.
            await self.app[REPLIES].publish_event(self.app[REPLIES].console_topic,
                                                  {"type": "emergency", "ticket_no": number, "channel": channel})
        return True


RECLASSIFIER: web.AppKey[Reclassifier] = web.AppKey("reclassifier", Reclassifier)
RECLASSIFY_TASK: web.AppKey[asyncio.Task] = web.AppKey("reclassify_task", asyncio.Task)


def reclassify_ctx() -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that re-classifies tickets opened without the NLU, for as long as the app runs."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if not app[SETTINGS].nlu_enabled:
            yield
            return
        reclassifier = app[RECLASSIFIER] = Reclassifier(app)
        async with background_task(reclassifier.run, name="nlu-reclassify") as task:
            app[RECLASSIFY_TASK] = task
            yield

    return ctx
