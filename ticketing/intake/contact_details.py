"""Contact details a citizen writes into a message instead of a channel's contact fields.

A mobile number in a later chat message is not taken on trust (it may be a neighbour's, a
landlord's, a company's hotline): the bot asks the citizen first, and only a yes attaches it to
the ticket.  The question is the bot's entry on the ticket, with the number in its ``meta``; it
stays open while it is the newest word of the bot or an operator on the ticket and for
``CONFIRM_WITHIN``; an answer after anything else was said, or later, is an ordinary message.
A number typed into the chat's contact form is explicit and needs no question.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.models.tickets import Entry, Ticket
from ticketing.intake import texts
from ticketing.tickets import store
from ticketing.tickets.masking import mask_phone

# A mobile number as people type it (13900001111, 139-0000-1111, 139 0000 1111), not a run of
# digits inside a longer number (an ID card, a ticket number's digits).
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(1[3-9]\d)[-\s]?(\d{4})[-\s]?(\d{4})(?!\d)")

# The channels where the citizen can answer the question at once (a chat).
CONFIRMING_CHANNELS = frozenset({"web", "wechat"})
# As long as an answer to a question joins its ticket (``rules.QUESTION_WINDOW``).
CONFIRM_WITHIN = timedelta(minutes=10)
META_KEY = "confirm_phone"
ASKED_AT_KEY = "confirm_asked_at"  # the asking message's time: answers are timed on the channel's clock
YES = "确认"
NO = "不是"
# What people answer besides the buttons' words (WeChat: 1 / 2).
_YES_WORDS = frozenset({YES, "1", "是", "是的", "对", "对的", "确定", "好", "好的", "可以", "确认的"})
_NO_WORDS = frozenset({NO, "2", "否", "不对", "不用", "不要", "取消", "不确认", "错了"})
_NOISE = re.compile(r"[\s，。,.!！~～、]+")


def phone_in_text(text: str) -> str | None:
    """The first mobile number written in the text, stored the way the contact fields store it."""
    match = _MOBILE_IN_TEXT.search(text)
    return "".join(match.groups()) if match else None


def question(phone: str, channel: str) -> str:
    """The bot's question; the web chat shows 确认 / 不是 buttons under it, WeChat takes 1 / 2."""
    text = f"您留的手机号是 {mask_phone(phone) or phone}，确认作为联系电话吗？"
    if channel == "wechat":
        text += "回复1确认，回复2不是。"
    return text


def declined() -> str:
    return "好的，该号码不作为联系电话。如需留下联系方式，可在对话中再次发送手机号。"


def question_meta(phone: str, asked_at: datetime) -> dict[str, str]:
    """What the question's bot entry keeps for the answer."""
    return {META_KEY: phone, ASKED_AT_KEY: asked_at.isoformat()}


def answer_of(text: str) -> bool | None:
    """True for a yes, False for a no, None for anything else (an ordinary message)."""
    word = _NOISE.sub("", text or "")
    if word in _YES_WORDS:
        return True
    if word in _NO_WORDS:
        return False
    return None


def taken_as_given(channel: str, text: str) -> str | None:
    """A number written in a later message of a channel without a chat (a letter to the mayor's
    mailbox): no one could answer a question there, and a letter's number is meant as contact."""
    return None if channel in CONFIRMING_CHANNELS else phone_in_text(text)


def to_confirm(ticket: Ticket, channel: str, text: str, form_phone: str | None) -> str | None:
    """The number written in a later chat message to ask about: the ticket lacks a phone, the
    form gave none, and the channel lets the citizen answer."""
    if ticket.citizen_phone or form_phone or channel not in CONFIRMING_CHANNELS:
        return None
    return phone_in_text(text)


async def open_question(session: AsyncSession, ticket: Ticket, at: datetime) -> str | None:
    """The number the bot's still-open question on this ticket is about, if any."""
    stmt = (select(Entry).where(Entry.ticket_id == ticket.id, Entry.author.in_(["bot", "operator"]),
                                Entry.public.is_(True))
            .order_by(Entry.id.desc()).limit(1))
    last = (await session.execute(stmt)).scalar_one_or_none()
    if last is None or last.author != "bot" or not (last.meta or {}).get(META_KEY):
        return None
    try:
        asked_at = datetime.fromisoformat(str(last.meta.get(ASKED_AT_KEY)))
    except ValueError:
        asked_at = last.created_at
    if not timedelta(0) <= at - asked_at <= CONFIRM_WITHIN:
        return None
    return str(last.meta[META_KEY])


async def settle(session: AsyncSession, ticket: Ticket, text: str, at: datetime) -> tuple[str, str | None] | None:
    """The citizen's answer to an open question: (the bot's reply, the number attached or None);
    None when the message is no such answer.  A yes fills the phone only if it is still missing."""
    phone = await open_question(session, ticket, at)
    if phone is None:
        return None
    answer = answer_of(text)
    if answer is None:
        return None
    if not answer:
        await store.record_event(session, ticket, actor="citizen", action="phone_declined", detail={})
        return declined(), None
    if ticket.citizen_phone:
        return f"工单已有联系电话 {mask_phone(ticket.citizen_phone)}，未作更改。", None
    await store.update_fields(session, ticket, actor="citizen", citizen_phone=phone)
    return texts.contact_recorded(mask_phone(phone) or phone), phone
