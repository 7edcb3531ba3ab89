"""What channels report back to the gateway after the fact, and the consoles' live notice of it."""

from __future__ import annotations

import logging

from aiohttp import web

from connectors.base import DeliveryResult, ReportDelivery
from gateway.infra.replies import REPLIES
from gateway.infra.resources import SESSIONS
from ticketing.db.models.tickets import Ticket
from ticketing.tickets import replies

log = logging.getLogger(__name__)


def delivery_reporter(app: web.Application) -> ReportDelivery:
    """``report_delivery`` for channels: the bot's later-sent answer to a citizen message gets
    its delivery status, so a refusal (WeChat 45015 …) shows on the ticket and in open consoles."""

    async def report(channel: str, native_id: str, result: DeliveryResult) -> None:
        if result.delivered:
            # The bot's entry was stored as sent; only a refusal is news. Writing "sent" again would
            # cost a transaction per customer-service message in a burst, when the web has least to spare.
            return
        async with app[SESSIONS]() as session:
            entry = await replies.bot_answer_to(session, channel, native_id)
            if entry is None:
                return
            entry.delivery_status = "sent" if result.delivered else "failed"
            entry.delivery_detail = None if result.delivered else (result.detail or "发送失败")[:300]
            ticket = await session.get(Ticket, entry.ticket_id) if entry.ticket_id else None
            await session.commit()
        if ticket is not None and not result.delivered:
            await announce_to_consoles(app, {"type": "delivery", "ticket_no": ticket.number, "channel": channel,
                                             "status": "failed"})

    return report


async def announce_to_consoles(app: web.Application, event: dict) -> None:
    try:
        await app[REPLIES].publish_event(app[REPLIES].console_topic, event)
    except Exception as exc:  # live updates are a convenience; the data is committed
        log.debug("console event not published: %s", exc)
