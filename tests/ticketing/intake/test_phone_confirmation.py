"""A mobile number written in a later chat message attaches to the ticket only once the citizen
confirms it (issue #14, item 2); a number from the contact form, or in a letter, needs no question."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.ticketing.factories import DIRECTORY
from tests.ticketing.intake.test_rules import MORNING, Message, ticket_of
from ticketing.db.models.tickets import Entry, TicketEvent
from ticketing.intake import contact_details, texts
from ticketing.intake.contract import Classification, Outcome
from ticketing.intake.rules import IntakeRules
from ticketing.tickets.store import ContactInfo

NOW = MORNING  # inside the shift: the receipts carry no off-hours note, whenever the suite runs


@pytest.fixture
def take_in(sessions):
    rules = IntakeRules(sessions, DIRECTORY)

    async def take(message: Message, classification: Classification = Classification()) -> Outcome:
        async with sessions() as session, session.begin():
            return await rules.take_in(session, message, classification)

    return take


def _say(text: str, sender: str, *, channel: str = "web", minutes: float = 0, phone: str | None = None) -> Message:
    return Message(text, channel=channel, sender_id=sender, contact=ContactInfo(phone=phone),
                   received_at=NOW + timedelta(minutes=minutes))


async def _opened(take, channel: str = "web") -> tuple[str, str]:
    sender = "s-" + uuid.uuid4().hex
    first = await take(_say("小区门口的路灯坏了", sender, channel=channel))
    assert first.kind == "ticket"
    return sender, first.ticket_no


async def test_a_written_number_is_asked_about_and_attached_on_yes(sessions, take_in):
    sender, number = await _opened(take_in)
    asked = await take_in(_say("我电话 13900001111，有事打我", sender, minutes=1))
    assert asked.ticket_no == number
    assert asked.reply.endswith("您留的手机号是 139****1111，确认作为联系电话吗？")
    assert (await ticket_of(sessions, asked)).citizen_phone is None
    yes = await take_in(_say("确认", sender, minutes=2))
    assert (yes.kind, yes.ticket_no, yes.reply) == ("followup", number, texts.contact_recorded("139****1111"))
    ticket = await ticket_of(sessions, yes)
    assert ticket.citizen_phone == "13900001111"
    async with sessions() as session:
        updates = (await session.execute(select(TicketEvent.actor, TicketEvent.to_value).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.field == "citizen_phone"))).all()
    assert updates == [("citizen", "13900001111")]
    again = await take_in(_say("确认", sender, minutes=3))  # the question is settled: an ordinary message
    assert again.reply == texts.followup_ack(number)


async def test_no_keeps_the_number_off_the_ticket(sessions, take_in):
    sender, number = await _opened(take_in)
    await take_in(_say("物业电话是 13700002222，可以找他们", sender, minutes=1))
    no = await take_in(_say("不是", sender, minutes=2))
    assert no.reply == contact_details.declined()
    ticket = await ticket_of(sessions, no)
    assert ticket.citizen_phone is None
    async with sessions() as session:
        actions = (await session.execute(select(TicketEvent.action).where(TicketEvent.ticket_id == ticket.id))).scalars()
        assert "phone_declined" in list(actions)


async def test_wechat_asks_for_1_or_2(sessions, take_in):
    sender, number = await _opened(take_in, "wechat")
    asked = await take_in(_say("联系电话139 0000 3333", sender, channel="wechat", minutes=1))
    assert asked.reply.endswith("您留的手机号是 139****3333，确认作为联系电话吗？回复1确认，回复2不是。")
    yes = await take_in(_say("1", sender, channel="wechat", minutes=2))
    assert yes.reply == texts.contact_recorded("139****3333")
    assert (await ticket_of(sessions, yes)).citizen_phone == "13900003333"


async def test_an_answer_after_something_else_or_too_late_is_an_ordinary_message(sessions, take_in):
    sender, number = await _opened(take_in)
    await take_in(_say("电话13900004444", sender, minutes=1))
    await take_in(_say("还有，路灯旁边的井盖也松了", sender, minutes=2))  # the bot answered something else since
    late = await take_in(_say("确认", sender, minutes=3))
    assert late.reply == texts.followup_ack(number)
    assert (await ticket_of(sessions, late)).citizen_phone is None

    other, second = await _opened(take_in)
    await take_in(_say("电话13900005555", other, minutes=1))
    stale = await take_in(_say("确认", other, minutes=1 + contact_details.CONFIRM_WITHIN.total_seconds() / 60 + 1))
    assert stale.ticket_no == second and stale.reply == texts.followup_ack(second)
    assert (await ticket_of(sessions, stale)).citizen_phone is None


async def test_the_contact_form_and_a_letter_attach_at_once(sessions, take_in):
    sender, number = await _opened(take_in)
    form = await take_in(_say("麻烦尽快处理", sender, minutes=1, phone="13600006666"))
    assert form.reply.endswith(texts.contact_recorded("136****6666")) and "确认作为联系电话" not in form.reply
    assert (await ticket_of(sessions, form)).citizen_phone == "13600006666"

    mailer = "citizen@example.cn"
    letter = await take_in(Message("市长您好：小区垃圾没人收。", channel="email", sender_id=mailer, contact=ContactInfo(),
                                   received_at=NOW))
    later = await take_in(Message("补充：联系电话13500007777。", channel="email", sender_id=mailer,
                                  contact=ContactInfo(), received_at=NOW + timedelta(minutes=5)), Classification())
    assert later.ticket_no == letter.ticket_no and "确认作为联系电话" not in later.reply
    assert (await ticket_of(sessions, later)).citizen_phone == "13500007777"


async def test_the_question_keeps_the_number_for_the_answer(sessions, take_in):
    sender, _ = await _opened(take_in)
    asked = await take_in(_say("我的号码 13900008888", sender, minutes=1))
    async with sessions() as session:
        bot = (await session.execute(select(Entry).where(Entry.author == "bot", Entry.ticket_id.is_not(None))
                                     .order_by(Entry.id.desc()).limit(1))).scalar_one()
    assert bot.meta[contact_details.META_KEY] == "13900008888" and bot.text == asked.reply
