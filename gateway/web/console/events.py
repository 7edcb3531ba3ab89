"""Live console: the SSE stream of queue events and the optional round-robin assigner.

Both follow the Redis pub/sub topic ``console_events`` that the pipeline (new hand-offs,
follow-ups, emergencies) and the console actions (claims, updates) publish to, so an event
raised by any gateway or worker process reaches every operator's browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from sqlalchemy import select

from connectors.task_stop import cancel_and_wait
from gateway.infra.replies import REPLIES
from gateway.infra.resources import KEYS, REDIS, SESSIONS
from gateway.infra.sse import relay
from gateway.web.audiences import Config
from gateway.web.auth import OPERATORS, require_role
from ticketing.db.models.tickets import Ticket
from ticketing.supervision import auto_assign
from ticketing.tickets import claims

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

SSE_EVENT = "queue"  # one SSE event name (the page's hx-trigger="sse:queue"); the JSON says what happened
ASSIGNER_HEARTBEAT = 30.0
RETRY_SECONDS = 2.0


def auto_assign_key(config: Config) -> str:
    return config[KEYS].key("console", "auto_assign")


async def auto_assign_enabled(config: Config) -> bool:
    return (await config[REDIS].get(auto_assign_key(config))) == b"1"


async def set_auto_assign(config: Config, enabled: bool) -> None:
    await config[REDIS].set(auto_assign_key(config), b"1" if enabled else b"0")


HOTSPOT_EVENT = "hotspot"  # the worker's hot-spot alerts: the supervisors' banner, not a queue refresh


def _queue_event(event: dict[str, Any]) -> str:
    return HOTSPOT_EVENT if event.get("type") == "hotspot" else SSE_EVENT


@routes.get("/console/events")
@require_role(*OPERATORS, "dispatcher")  # the loop desk and the queue refresh live too
async def console_events(request: web.Request) -> web.StreamResponse:
    config = request.config_dict
    return await relay(request, config[REPLIES].subscribe(config[REPLIES].console_topic), name=_queue_event)


async def _assigner(config: Config) -> None:
    """Round-robin new hand-offs among operators on shift, when a supervisor turned it on.

    Every gateway process runs this; the conditional UPDATE in ``auto_assign`` makes exactly
    one of them win each ticket.
    """
    while True:
        try:
            async for event in config[REPLIES].subscribe(config[REPLIES].console_topic, heartbeat=ASSIGNER_HEARTBEAT):
                if not isinstance(event, dict) or event.get("type") not in ("ticket", "emergency") \
                        or not event.get("ticket_no") or not await auto_assign_enabled(config):
                    continue
                try:
                    await _assign_one(config, event["ticket_no"])
                except Exception as exc:  # one bad event must not stop the assigner
                    log.warning("console auto-assigner: ticket %s: %s", event.get("ticket_no"), exc)
        except Exception as exc:  # Redis or DB blip: wait and listen again
            log.warning("console auto-assigner: %s", exc)
            await asyncio.sleep(RETRY_SECONDS)


async def _assign_one(config: Config, number: str) -> None:
    async with config[SESSIONS]() as session, session.begin():
        ticket = await claims.get_ticket(session, number)
        who = None if ticket.assignee is not None else await auto_assign.auto_assign(session, ticket.id)
    if who:
        await config[REPLIES].publish_event(config[REPLIES].console_topic, {
            "type": "assigned", "ticket_no": number, "by": "system", "to": who})


@contextlib.asynccontextmanager
async def auto_assigner(config: Config) -> AsyncIterator[None]:
    """The assigner task, for the console sub-app's lifetime."""
    task = asyncio.create_task(_assigner(config), name="console-assigner")
    try:
        yield
    finally:
        await cancel_and_wait([task])


async def assign_backlog(config: Config, limit: int = 50) -> int:
    """Hand out tickets already waiting when auto-assignment is switched on."""
    done = 0
    async with config[SESSIONS]() as session:
        ids = list((await session.execute(
            select(Ticket.id).where(Ticket.status == "pending_review", Ticket.assignee.is_(None))
            .order_by(Ticket.urgent.desc(), Ticket.created_at).limit(limit))).scalars())
    for tid in ids:
        async with config[SESSIONS]() as session, session.begin():
            if await auto_assign.auto_assign(session, tid) is None:
                break
            done += 1
    return done
