"""What the ticketing tests build on: the directory, console actors and a bot hand-off as the intake stores it."""

from __future__ import annotations

import uuid
from datetime import datetime

from config.directory import load_directory
from ticketing.accounts.roles import Actor
from ticketing.db.models.base import utcnow
from ticketing.tickets import store

DIRECTORY = load_directory()
LI = Actor("li", "李", "operator")
WANG = Actor("wang", "王", "operator")
ZHAO = Actor("zhao", "赵", "dispatcher")
CHEN = Actor("chen", "陈", "supervisor")
# Handlers of two units: each sees only its own unit's tickets.
HEALTH_CLERK = Actor("wjw1", "卫健委经办人", "handler", unit="health")
RUZHOU_CLERK = Actor("rz1", "汝州远端坐席", "handler", unit="ruzhou")


async def handoff_ticket(sessions, *, urgent: bool = False, at: datetime | None = None, predicted: bool = True,
                         department: str = "urban_management", request_type: str = "complaint",
                         text: str = "路灯坏了") -> int:
    """A web citizen's ticket with its first entry and (``predicted``) the bot's prediction; its id."""
    at = at or utcnow()
    async with sessions() as session, session.begin():
        conv = await store.lock_conversation(session, "web", "s" + uuid.uuid4().hex, at)
        ticket = await store.create_ticket(session, conversation=conv, channel="web", actor="bot", title=text,
                                           department=department if predicted else None,
                                           request_type=request_type if predicted else None, urgent=urgent,
                                           classification="predicted" if predicted else "unclassified", at=at)
        entry = await store.add_entry(session, conversation=conv, ticket=ticket, author="citizen", channel="web",
                                      text=text, at=at)
        if predicted:
            await store.add_prediction(session, ticket, entry=entry, department=department, region=None,
                                       request_type=request_type, intent="x", confidence=0.9,
                                       alternatives=[], model_version="m")
        return ticket.id
