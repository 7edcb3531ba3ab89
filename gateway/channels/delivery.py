"""An operator's reply, sent to the citizen through the channel they used.

The reply is committed as a ``pending`` entry *before* anything is sent: if the process
dies while a connector is talking to WeChat or the mail relay, the console still shows a
reply that was not confirmed sent, instead of losing it.  Then the channel is tried and the
entry's delivery status becomes ``sent`` or ``failed`` (with the channel's reason, e.g.
WeChat 45015: outside the 48-hour window), or stays ``pending`` when there is nothing to
send it with yet (an email without a relay, a channel without a connector).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import DeliveryResult, ReplyTarget
from gateway.channels.reports import announce_to_consoles
from gateway.channels.wiring import CONNECTORS
from gateway.infra.replies import REPLIES
from ticketing.accounts.roles import Actor
from ticketing.db.models.tickets import Conversation, Entry, Ticket
from ticketing.tickets import claims, handling, replies, store

log = logging.getLogger(__name__)

SEND_TIMEOUT = 20.0

# Results that mean "kept for later" rather than "refused": the email connector without an
# SMTP relay keeps the answer in its outbox state.
_EMAIL_NO_RELAY = "未配置发信服务器"

NO_CONNECTOR = {
    "phone": "电话渠道不能自动发送：请回拨群众电话告知答复内容，并在备注中记录回访情况",
    "letter": "来信渠道不能自动发送：请按群众来信地址寄送书面答复",
}


def _no_connector_detail(channel: str) -> str:
    return NO_CONNECTOR.get(channel, f"渠道「{channel}」尚未配置发送接口，答复已保存但未发出")


async def deliver_operator_reply(app: web.Application, session: AsyncSession, ticket: Ticket, text: str,
                                 operator: Actor) -> Entry:
    """Store the reply and send it.  Commits ``session`` (twice: before and after sending)."""
    entry, conv = await replies.start_reply(session, ticket, operator, text)
    await session.commit()
    await send_entry(app, session, ticket, entry, conv)
    await deliver_to_merged(app, session, ticket, entry)
    return entry


MERGED_PREFIX = "您反映的问题（工单 {own}）已与工单 {main} 合并办理，答复如下：\n"


async def deliver_to_merged(app: web.Application, session: AsyncSession, ticket: Ticket, entry: Entry,
                            text: str | None = None) -> list[Entry]:
    """Send an answer given on a main ticket to every merged duplicate's citizen, each through their
    own channel, each copy stored ``pending`` on its duplicate first (like any reply).  ``text``
    replaces the answer's own (e.g. without the main citizen's survey link).  Commits ``session``.

    A duplicate from the main ticket's own conversation gets nothing: that citizen has the answer."""
    copies: list[tuple[Ticket, Entry, Conversation]] = []
    for duplicate in await handling.merged_duplicates(session, ticket):
        if duplicate.conversation_id == ticket.conversation_id:
            continue
        duplicate = await claims.lock_ticket(session, duplicate)
        conv = await store.conversation_of(session, duplicate)
        copy = await store.add_entry(
            session, conversation=conv, ticket=duplicate, author="operator", author_name=entry.author_name,
            channel=duplicate.channel, public=True, delivery_status="pending",
            text=MERGED_PREFIX.format(own=duplicate.number, main=ticket.number) + (text or entry.text),
            meta={"operator": (entry.meta or {}).get("operator"), "kind": "reply", "copy_of": entry.id,
                  "main_ticket": ticket.number})
        await store.record_event(session, duplicate, actor=(entry.meta or {}).get("operator") or "system",
                                 action="reply", detail={"entry_id": copy.id, "copy_of": entry.id})
        copies.append((duplicate, copy, conv))
    await session.commit()
    return [await send_entry(app, session, duplicate, copy, conv) for duplicate, copy, conv in copies]


async def send_entry(app: web.Application, session: AsyncSession, ticket: Ticket, entry: Entry,
                     conv: Conversation | None = None) -> Entry:
    """(Re)send one stored operator reply and record the outcome.  Commits ``session``."""
    conv = conv or await session.get(Conversation, entry.conversation_id)
    channel = ticket.channel
    status, detail, sent_id = await _send(app, session, ticket, entry, conv, channel)
    entry.delivery_status = status
    entry.delivery_detail = (detail or None) and detail[:300]
    if sent_id:
        entry.meta = {**(entry.meta or {}), "sent_message_id": sent_id}
    attempts = int((entry.meta or {}).get("attempts", 0)) + 1
    entry.meta = {**(entry.meta or {}), "attempts": attempts}
    await session.commit()
    if channel != "web":
        # The queue shows failed deliveries; let open consoles refresh.
        await announce_to_consoles(app, {"type": "delivery", "ticket_no": ticket.number, "channel": channel,
                              "status": status})
    return entry


async def _send(app: web.Application, session: AsyncSession, ticket: Ticket, entry: Entry,
                conv: Conversation | None, channel: str) -> tuple[str, str, str | None]:
    if channel == "web":
        if conv is None:
            return "failed", "找不到群众的网页会话", None
        event = {"type": "message", "author": "operator", "author_name": entry.author_name, "text": entry.text,
                 "ticket_no": ticket.number, "id": entry.id}
        try:
            await app[REPLIES].publish_event(app[REPLIES].session_topic(conv.sender_id), event)
        except Exception as exc:  # Redis hiccup: the message is stored; the chat shows it on reload
            log.warning("web reply for %s not pushed live: %s", ticket.number, exc)
            return "sent", "实时推送失败，群众刷新页面后可见", None
        return "sent", "", None

    connector = (app.get(CONNECTORS) or {}).get(channel)
    if connector is None:
        return "pending", _no_connector_detail(channel), None
    if conv is None:
        return "failed", "找不到群众在该渠道的会话", None
    thread_key, subject = await replies.reply_thread(session, ticket)
    target = ReplyTarget(channel=channel, sender_id=conv.sender_id, thread_key=thread_key or ticket.number,
                         subject=subject)
    try:
        result: DeliveryResult = await asyncio.wait_for(connector.send_reply(target, entry.text), SEND_TIMEOUT)
    except TimeoutError:
        return "failed", f"发送超时（{int(SEND_TIMEOUT)} 秒未响应），请稍后重试", None
    except Exception as exc:  # a connector bug must not lose the operator's reply
        log.exception("sending a %s reply for %s failed", channel, ticket.number)
        return "failed", f"发送出错：{type(exc).__name__}", None
    if result.delivered:
        return "sent", result.detail or "", result.channel_message_id
    if channel == "email" and (result.detail or "").startswith(_EMAIL_NO_RELAY):
        return "pending", f"{result.detail}：答复已存入待发件箱，尚未发出", None
    return "failed", result.detail or "发送失败", None


# What the platform is told when an operator closes its item without a written answer of their own.
PLATFORM_STATUS_TEXT = {
    "answered": "您的诉求已由平顶山市12345政务服务热线直接办结。",
    "closed": "您的诉求已办理完毕，工单已办结归档。",
}


async def report_status_to_platform(app: web.Application, session: AsyncSession, ticket: Ticket,
                                    status: str) -> DeliveryResult | None:
    """Write back (回传) a national-platform item's new status with the latest public answer.

    Only for tickets from the platform; a failure is kept by the poller for admins (failed
    write-backs, retried) and is not raised: the ticket's own change is already committed.
    """
    if ticket.channel != "national_platform":
        return None
    connector = (app.get(CONNECTORS) or {}).get("national_platform")
    if connector is None:
        log.warning("ticket %s became %s but the national feed is not configured: no write-back",
                    ticket.number, status)
        return None
    thread_key, _ = await replies.reply_thread(session, ticket)
    answer = await replies.latest_public_reply(session, ticket)
    target = ReplyTarget(channel="national_platform", sender_id="", thread_key=thread_key)
    try:
        return await asyncio.wait_for(
            connector.write_back(target, status, answer or PLATFORM_STATUS_TEXT[status]), SEND_TIMEOUT)
    except Exception as exc:  # kept visible by the poller when it got that far; never lose the ticket's change
        log.warning("write-back of %s (%s) failed: %s", ticket.number, status, exc)
        return DeliveryResult(False, f"ERROR: {type(exc).__name__}")
