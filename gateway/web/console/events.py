"""Live console: the SSE stream of queue events and the optional round-robin assigner.

Both read the Redis pub/sub topic ``console_events`` that the pipeline (new hand-offs,
follow-ups, emergencies) and the console actions (claims, updates) publish to, so an event
raised by any gateway or worker process reaches every operator's browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import select

from gateway.infra.replies import REPLIES
from gateway.infra.resources import KEYS, REDIS, SESSIONS
from gateway.web.auth import OPERATORS, require_role
from ticketing.db.models.tickets import Ticket
from ticketing.supervision import auto_assign
from ticketing.tickets import claims

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 4.0  # below the Redis client's socket timeout; also keeps proxies from idling out
SSE_EVENT = "queue"  # one SSE event name; the JSON payload says what happened
ASSIGNER: web.AppKey[asyncio.Task] = web.AppKey("console_assigner", asyncio.Task)


def auto_assign_key(app: web.Application) -> str:
    return f"{app[KEYS].prefix}:console:auto_assign"


async def auto_assign_enabled(app: web.Application) -> bool:
    return (await app[REDIS].get(auto_assign_key(app))) == b"1"


async def set_auto_assign(app: web.Application, enabled: bool) -> None:
    await app[REDIS].set(auto_assign_key(app), b"1" if enabled else b"0")


@require_role(*OPERATORS)
async def console_events(request: web.Request) -> web.StreamResponse:
    app = request.app
    # Subscribed before the response starts: once the browser sees the stream open, no
    # event can fall between "connected" and "listening".
    pubsub = app[REDIS].pubsub()
    await pubsub.subscribe(app[KEYS].console_events)
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
    })
    try:
        await response.prepare(request)
        await response.write(b"retry: 3000\n: connected\n\n")
        while True:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=HEARTBEAT_SECONDS)
            if msg is None:
                await response.write(b": ping\n\n")
                continue
            try:
                data = json.dumps(json.loads(msg["data"]), ensure_ascii=False)
            except (ValueError, TypeError):
                continue
            await response.write(f"event: {SSE_EVENT}\ndata: {data}\n\n".encode())
    except ConnectionResetError:
        pass  # the browser went away
    finally:
        await _close(pubsub)
    return response


async def _close(pubsub) -> None:
    # Bounded: a pub/sub connection interrupted mid-read can make aclose() wait forever,
    # which would hold up the app's shutdown.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.shield(pubsub.aclose()), 2)


async def _assigner(app: web.Application) -> None:
    """Round-robin new hand-offs among operators on shift, when a supervisor turned it on.

    Every gateway process runs this; the conditional UPDATE in ``auto_assign`` makes exactly
    one of them win each ticket.
    """
    while True:
        pubsub = app[REDIS].pubsub()
        try:
            await pubsub.subscribe(app[KEYS].console_events)
            while True:
                msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=30)
                if msg is None:
                    continue
                try:
                    event = json.loads(msg["data"])
                except (ValueError, TypeError):
                    continue
                if not isinstance(event, dict) or event.get("type") not in ("ticket", "emergency") \
                        or not event.get("ticket_no"):
                    continue
                if not await auto_assign_enabled(app):
                    continue
                try:
                    await _assign_one(app, event["ticket_no"])
                except Exception as exc:  # one bad event must not stop the assigner
                    log.warning("console auto-assigner: ticket %s: %s", event.get("ticket_no"), exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis or DB blip: wait and listen again
            log.warning("console auto-assigner: %s", exc)
            await asyncio.sleep(2)
        finally:
            await _close(pubsub)


async def _assign_one(app: web.Application, number: str) -> None:
    async with app[SESSIONS]() as session, session.begin():
        ticket = await claims.get_ticket(session, number)
        who = None if ticket.assignee is not None else await auto_assign.auto_assign(session, ticket.id)
    if who:
        await app[REPLIES].publish_event(app[KEYS].console_events, {
            "type": "assigned", "ticket_no": number, "by": "system", "to": who})


async def assigner_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_assigner(app), name="console-assigner")
    app[ASSIGNER] = task
    yield
    task.cancel()
    await asyncio.wait([task], timeout=5)


async def assign_backlog(app: web.Application, limit: int = 50) -> int:
    """Hand out tickets already waiting when auto-assignment is switched on."""
    done = 0
    async with app[SESSIONS]() as session:
        ids = list((await session.execute(
            select(Ticket.id).where(Ticket.status == "pending_review", Ticket.assignee.is_(None))
            .order_by(Ticket.urgent.desc(), Ticket.created_at).limit(limit))).scalars())
    for tid in ids:
        async with app[SESSIONS]() as session, session.begin():
            if await auto_assign.auto_assign(session, tid) is None:
                break
            done += 1
    return done
