"""The release job: a chat ticket whose question went unanswered does not wait for ever.

Every ``HOTLINE_SWEEP_SECONDS`` one worker process (whichever takes the Redis lock) hands every ticket
still ``gathering`` after its ``gathering_until`` (or claimed by an operator meanwhile) to the
operators' queue with the gap flagged (``ticketing.intake.gathering.release_due``), ends the
conversations' dialogue state and tells the consoles.  The deadline lives in the database, so a lost
dialogue state or a restart delays a ticket by one period at most.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aiohttp import web

from gateway.infra.replies import REPLIES
from gateway.infra.resources import DIRECTORY, KEYS, REDIS, SESSIONS, SETTINGS
from gateway.worker.background import background_task, every, exclusive
from gateway.worker.dialogue import DialogueStore
from ticketing.db.models.base import utcnow
from ticketing.intake.gathering import Gatherer, Released, release_due

log = logging.getLogger(__name__)


class GatheringRelease:
    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.interval = app[SETTINGS].sweep_seconds
        self.gatherer = Gatherer(app[DIRECTORY])
        self.dialogues = DialogueStore(app[REDIS], app[KEYS])
        self.lock_key = app[KEYS].key("gathering-release", "lock")
        self.lock_seconds = max(60.0, 3 * self.interval)

    async def run(self, stop: asyncio.Event) -> None:
        await every(stop, self.interval, self.run_once, what="gathering release")

    async def run_once(self, *, now: datetime | None = None) -> list[Released] | None:
        """The tickets released; None when another process held the lock."""
        async with exclusive(self.app[REDIS], self.lock_key, self.lock_seconds) as held:
            if not held:
                return None
            async with self.app[SESSIONS]() as session, session.begin():
                released = await release_due(session, self.gatherer, now or utcnow())
        if released:
            replies = self.app[REPLIES]
            async with self.app[REDIS].pipeline(transaction=False) as pipe:
                for item in released:
                    if item.sender_id is not None:
                        self.dialogues.stage(pipe, item.channel, item.sender_id, {})
                    replies.stage_event(pipe, replies.console_topic,
                                        {"type": "ticket", "ticket_no": item.ticket_no, "channel": item.channel})
                await pipe.execute()
            log.info("gathering release: %d tickets to the queue", len(released))
        return released


GATHERING_RELEASE: web.AppKey[GatheringRelease] = web.AppKey("gathering_release", GatheringRelease)


def gathering_release_ctx() -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        job = app[GATHERING_RELEASE] = GatheringRelease(app)
        async with background_task(job.run, name="gathering-release"):
            yield

    return ctx
