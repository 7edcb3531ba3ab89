"""The one :class:`~connectors.base.ChannelContext` of a process: what channels get of the gateway.

Channels import neither the gateway nor the ticket store; everything they use of them is
built here from the app's shared resources, as plain callables.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web
from prometheus_client import Counter
from sqlalchemy import select

from connectors.base import Admission, ChannelContext, ConversationEntry, InboundMessage, OnceKey
from gateway.channels.reports import delivery_reporter
from gateway.infra.metrics import METRICS
from gateway.infra.ratelimit import RateLimiter, client_address
from gateway.infra.replies import REPLIES
from gateway.infra.resources import ATTACHMENTS, DIRECTORY, KEYS, REDIS, SESSIONS, SETTINGS
from gateway.infra.sse import relay
from gateway.infra.stream import STREAM
from ticketing.db.models.tickets import Ticket
from ticketing.tickets import store


def channel_context(app: web.Application) -> ChannelContext:
    keys, metrics, replies = app[KEYS], app[METRICS], app[REPLIES]
    limiter = RateLimiter(app[REDIS], keys)

    async def read_conversation(channel: str, sender_id: str, after_id: int) -> Sequence[ConversationEntry]:
        async with app[SESSIONS]() as session:
            entries = await store.conversation_entries(session, channel, sender_id, after_id=after_id)
            ticket_ids = {e.ticket_id for e in entries if e.ticket_id}
            numbers: dict[int, str] = {}
            if ticket_ids:
                rows = await session.execute(select(Ticket.id, Ticket.number).where(Ticket.id.in_(ticket_ids)))
                numbers = {ticket_id: number for ticket_id, number in rows}
        return [ConversationEntry(id=e.id, author=e.author, author_name=e.author_name, text=e.text,
                                  created_at=e.created_at, ticket_no=numbers.get(e.ticket_id),
                                  quick_replies=tuple((e.meta or {}).get("quick_replies") or ()))
                for e in entries]

    # prometheus_client's labels() takes a lock and checks the values on every call; the channels
    # and reasons are a short fixed list, so each count keeps its child counter.
    accepted: dict[str, Counter] = {}

    def count_accepted(channel: str) -> None:
        child = accepted.get(channel)
        if child is None:
            child = accepted[channel] = metrics.accepted.labels(channel)
        child.inc()

    async def allow_request(request: web.Request, scope: str, per_minute: int) -> bool:
        return await limiter.allow(scope, client_address(request), per_minute)

    async def publish_limited(request: web.Request, scope: str, per_minute: int, message: InboundMessage,
                              once: OnceKey | None) -> Admission:
        rate_key, ttl = limiter.window_key(scope, client_address(request))
        return await app[STREAM].admit(message, rate_key=rate_key, limit=per_minute, rate_ttl=ttl, once=once)

    async def live_events(request: web.Request, topic: str) -> web.StreamResponse:
        return await relay(request, replies.subscribe(topic))

    return ChannelContext(
        settings=app[SETTINGS],
        directory=app[DIRECTORY],
        publish=app[STREAM].publish,
        wait_reply=replies.wait_reply,
        report_delivery=delivery_reporter(app),
        redis=app[REDIS],
        key_prefix=lambda name: keys.key("conn", name),
        attachments=app[ATTACHMENTS],
        read_conversation=read_conversation,
        allow_request=allow_request,
        publish_limited=publish_limited,
        count_accepted=count_accepted,
        count_rejected=lambda channel, reason: metrics.rejected.labels(channel, reason).inc(),
        live_events=live_events,
        session_topic=replies.session_topic,
    )
