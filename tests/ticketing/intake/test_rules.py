"""The intake rules on their own: a message (+ classification) becomes or joins a ticket, no gateway."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from config.local_time import LOCAL_TZ
from tests.ticketing.factories import DIRECTORY
from ticketing.db.models.tickets import Attachment, Entry, Prediction, Ticket, TicketEvent
from ticketing.intake import texts
from ticketing.intake.contract import Classification, IntakeAttachment, IntakeContact, IntakeMessage, Outcome
from ticketing.intake.rules import IntakeRules
from ticketing.tickets import store
from ticketing.tickets.deadlines import deadline_for
from ticketing.tickets.lifecycle import Action
from ticketing.tickets.progress import public_progress
from ticketing.tickets.store import AttachmentInfo, ContactInfo

MORNING = datetime(2026, 3, 2, 10, 0, tzinfo=LOCAL_TZ)  # a Monday, during the network hotline's shift


@dataclass(frozen=True)
class Message:
    """The least a channel has to say about a message (what ``connectors.base.InboundMessage`` carries)."""

    text: str
    channel: str = "web"
    sender_id: str = field(default_factory=lambda: "s-" + uuid.uuid4().hex)
    native_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    received_at: datetime = MORNING
    thread_key: str | None = None
    subject: str | None = None
    contact: ContactInfo = ContactInfo(phone="13900001111")  # the store's own types fit the contract
    attachments: tuple[AttachmentInfo, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)


CLASSIFIED = Classification(handoff=True, department="urban_management", region="xinhua", request_type="complaint",
                            alternatives=({"code": "transport", "confidence": 0.1},), intent="dept_urban_management",
                            confidence=0.8, model="nlu-test")
FAQ = Classification(handoff=False, faq={"key": "faq/housing_fund", "answer": "住房公积金请拨打 12329。"})


@pytest.fixture
def rules(sessions) -> IntakeRules:
    return IntakeRules(sessions, DIRECTORY)


@pytest.fixture
def take_in(sessions, rules):
    async def take(message: Message, classification: Classification = Classification()) -> Outcome:
        async with sessions() as session, session.begin():
            return await rules.take_in(session, message, classification)

    return take


async def ticket_of(sessions, outcome: Outcome) -> Ticket:
    async with sessions() as session:
        return (await session.execute(select(Ticket).where(Ticket.number == outcome.ticket_no))).scalar_one()


async def entries_of(sessions, outcome: Outcome) -> list[Entry]:
    async with sessions() as session:
        citizen = await session.get(Entry, outcome.entry_id)
        stmt = select(Entry).where(Entry.conversation_id == citizen.conversation_id).order_by(Entry.id)
        return list((await session.execute(stmt)).scalars())


def test_the_test_message_and_its_parts_fit_the_contract():
    message = Message("x", attachments=(AttachmentInfo("a.jpg", "image/jpeg", 1, "k"),))
    assert isinstance(message, IntakeMessage)
    assert isinstance(message.contact, IntakeContact) and isinstance(message.attachments[0], IntakeAttachment)


async def test_a_message_becomes_an_unclassified_ticket_with_a_receipt(sessions, take_in):
    message = Message("小区门口路灯坏了一个星期\n晚上很黑", attachments=(AttachmentInfo("lamp.jpg", "image/jpeg", 3, "k/lamp"),))
    outcome = await take_in(message)
    assert outcome.kind == "ticket"
    assert outcome.reply == texts.ticket_created_unclassified(outcome.ticket_no)  # in the shift: no off-hours note
    ticket = await ticket_of(sessions, outcome)
    assert (ticket.channel, ticket.title, ticket.citizen_phone) == ("web", "小区门口路灯坏了一个星期", "13900001111")
    assert ticket.classification == "unclassified" and ticket.deadline is None and not ticket.urgent
    citizen, bot = await entries_of(sessions, outcome)
    assert (citizen.id, citizen.author, citizen.ticket_id, citizen.channel_message_id) == (
        outcome.entry_id, "citizen", ticket.id, message.native_id)
    assert (bot.author, bot.text, bot.meta, bot.ticket_id) == ("bot", outcome.reply, {"in_reply_to": message.native_id},
                                                               ticket.id)
    async with sessions() as session:
        [attachment] = (await session.execute(select(Attachment))).scalars()
    assert (attachment.ticket_id, attachment.entry_id, attachment.storage_key) == (ticket.id, citizen.id, "k/lamp")


async def test_a_classified_message_keeps_the_prediction_and_drops_unknown_codes(sessions, take_in):
    outcome = await take_in(Message("光明路上井盖丢了"), CLASSIFIED)  # the place named: nothing to ask
    ticket = await ticket_of(sessions, outcome)
    assert (ticket.department, ticket.region, ticket.request_type) == ("urban_management", "xinhua", "complaint")
    assert ticket.classification == "predicted"
    assert ticket.deadline == deadline_for(DIRECTORY, "complaint", MORNING)
    assert outcome.reply == texts.ticket_created(outcome.ticket_no, ticket.deadline)
    async with sessions() as session:
        prediction = (await session.execute(select(Prediction))).scalar_one()
    assert (prediction.entry_id, prediction.intent, prediction.confidence, prediction.model_version) == (
        outcome.entry_id, "dept_urban_management", 0.8, "nlu-test")

    unknown = Classification(department="atlantis_affairs", region="atlantis", request_type="wish")
    ticket = await ticket_of(sessions, await take_in(Message("别的事情"), unknown))
    assert (ticket.department, ticket.region, ticket.request_type) == (None, None, None)
    assert ticket.classification == "unclassified"


async def test_the_channel_hints_win_over_the_nlu(sessions, take_in):
    hinted = Message("平台转来的诉求", metadata={"region_hint": "lushan", "request_type_hint": "consult"})
    ticket = await ticket_of(sessions, await take_in(hinted, CLASSIFIED))
    assert (ticket.region, ticket.request_type, ticket.department) == ("lushan", "consult", "urban_management")


async def test_the_next_message_follows_up_and_reopens_an_answered_ticket(sessions, take_in):
    first = await take_in(Message("楼上漏水", sender_id="citizen-1"))
    async with sessions() as session, session.begin():
        ticket = await store.ticket_by_number(session, first.ticket_no)
        await store.transition(session, ticket, Action.ANSWER, actor="li")
    night = datetime(2026, 3, 2, 23, 0, tzinfo=LOCAL_TZ)
    second = await take_in(Message("还是在漏", sender_id="citizen-1", received_at=night))
    assert (second.kind, second.ticket_no) == ("followup", first.ticket_no)
    assert second.reply.startswith(texts.followup_ack(first.ticket_no)) and "非工作时间" in second.reply
    ticket = await ticket_of(sessions, second)
    assert ticket.status == "pending_review"
    async with sessions() as session:
        stmt = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        events = list((await session.execute(stmt)).scalars())
    reopen, followup = events[-2:]
    assert (reopen.action, reopen.actor, reopen.to_value, reopen.detail) == (
        "reopen", "citizen", "pending_review", {"note": "群众补充诉求"})
    assert (followup.action, followup.detail) == ("followup", {"entry_id": second.entry_id})


async def test_an_emergency_is_urgent_and_gets_the_number(sessions, take_in):
    emergency = Classification(emergency={"number": "119", "kind": "fire"})
    outcome = await take_in(Message("楼下着火了"), emergency)
    assert outcome.kind == "emergency" and outcome.reply == texts.emergency_reply("119", "fire")
    ticket = await ticket_of(sessions, outcome)
    assert ticket.urgent and ticket.deadline == deadline_for(DIRECTORY, None, MORNING, urgent=True)

    # On a citizen's open ticket: that ticket becomes urgent, no second one.
    sender = "citizen-2"
    first = await take_in(Message("噪音扰民", sender_id=sender))
    again = await take_in(Message("现在打起来了", sender_id=sender), Classification(emergency={"number": "110"}))
    assert (again.kind, again.ticket_no) == ("emergency", first.ticket_no)
    assert "110" in again.reply and (await ticket_of(sessions, again)).urgent


async def test_a_faq_is_answered_without_a_ticket_unless_the_channel_wants_one(sessions, take_in):
    outcome = await take_in(Message("公积金打哪个电话"), FAQ)
    assert outcome == Outcome("faq", FAQ.faq["answer"], None, outcome.entry_id)
    assert [entry.ticket_id for entry in await entries_of(sessions, outcome)] == [None, None]

    written = await take_in(Message("公积金打哪个电话", metadata={"force_ticket": True, "title": "咨询公积金"}), FAQ)
    assert written.kind == "ticket" and (await ticket_of(sessions, written)).title == "咨询公积金"
    platform = await take_in(Message("公积金打哪个电话", channel="national_platform"), FAQ)
    assert platform.kind == "ticket"


async def test_channel_events_and_empty_messages(sessions, take_in):
    event = await take_in(Message("", metadata={"msg_type": "event:subscribe"}))
    assert event == Outcome("event", None, None, event.entry_id)
    [entry] = await entries_of(sessions, event)
    assert entry.ticket_id is None and entry.meta == {"msg_type": "event:subscribe"}

    empty = await take_in(Message("   "))
    assert (empty.kind, empty.reply, empty.ticket_no) == ("faq", texts.empty_message(), None)


async def test_a_named_ticket_is_joined_only_by_its_own_sender_while_open(sessions, take_in):
    first = await take_in(Message("路灯不亮", sender_id="visitor-1"))
    named = await take_in(Message(f"关于 {first.ticket_no} 的补充"), Classification())  # another web visitor
    assert named.kind == "ticket"  # the number in the text alone names nothing
    by_thread = await take_in(Message("补充：在建设路", sender_id="visitor-1", thread_key=first.ticket_no))
    assert (by_thread.kind, by_thread.ticket_no) == ("followup", first.ticket_no)
    other_channel = await take_in(Message("补充", channel="wechat", metadata={"ticket_no": first.ticket_no}))
    assert other_channel.kind == "ticket" and other_channel.ticket_no != first.ticket_no

    async with sessions() as session, session.begin():
        ticket = await store.ticket_by_number(session, first.ticket_no)
        await store.transition(session, ticket, Action.ANSWER, actor="li")
        await store.transition(session, ticket, Action.CLOSE, actor="li")
    closed = await take_in(Message("又坏了", sender_id="visitor-1", thread_key=first.ticket_no))
    assert closed.kind == "ticket" and closed.ticket_no != first.ticket_no


async def test_a_stranger_naming_a_ticket_gets_a_new_one_that_refers_to_it(sessions, take_in):
    first = await take_in(Message("市长您好，反映供暖问题", channel="email", native_id="<m1@mail>",
                                  sender_id="a@example.cn"))
    async with sessions() as session, session.begin():
        ticket = await store.ticket_by_number(session, first.ticket_no)
        await store.transition(session, ticket, Action.ANSWER, actor="li")
    by_thread = await take_in(Message("我也是这栋楼的", channel="email", sender_id="b@example.cn",
                                      metadata={"references": ["<m0@mail>", "<m1@mail>"]}))
    by_subject = await take_in(Message("请回复我", channel="email", sender_id="b@example.cn",
                                       subject=f"Re: {first.ticket_no}"), FAQ)  # not even an FAQ answer
    for outcome in (by_thread, by_subject):
        assert outcome.kind == "ticket" and outcome.ticket_no != first.ticket_no
    async with sessions() as session:
        victim = await store.ticket_by_number(session, first.ticket_no)
        assert victim.status == "answered"  # not reopened
        entries = (await session.execute(select(Entry).where(Entry.author == "citizen",
                                                             Entry.ticket_id != victim.id))).scalars().all()
        assert [e.meta["refers_to_ticket"] for e in entries] == [first.ticket_no] * 2
        events = (await session.execute(select(TicketEvent.action, TicketEvent.to_value, TicketEvent.from_value)
                                        .where(TicketEvent.action.in_(["refers_to", "referred_by"]))
                                        .order_by(TicketEvent.id))).all()
    assert [(a, to) for a, to, _ in events if a == "refers_to"] == [("refers_to", first.ticket_no)] * 2
    assert sorted(frm for a, _, frm in events if a == "referred_by") == sorted([by_thread.ticket_no,
                                                                               by_subject.ticket_no])


async def test_a_reply_in_a_mail_thread_joins_the_thread_s_ticket(sessions, take_in):
    first = await take_in(Message("市长您好，反映供暖问题", channel="email", native_id="<m1@mail>",
                                  sender_id="a@example.cn"))
    same = await take_in(Message("补充：暖气片不热", channel="email", sender_id="a@example.cn",
                                 metadata={"references": ["<m0@mail>", "<m1@mail>"]}))
    assert (same.kind, same.ticket_no) == ("followup", first.ticket_no)


async def test_each_platform_item_is_a_case_of_its_own_with_its_deadline(sessions, take_in):
    due = MORNING + timedelta(days=5)
    item = {"deadline": due.isoformat(), "origin_hotline": "12319"}
    first = await take_in(Message("事项一", channel="national_platform", sender_id="p-1", metadata=item))
    second = await take_in(Message("事项二", channel="national_platform", sender_id="p-1", metadata=item))
    assert first.kind == second.kind == "ticket" and first.ticket_no != second.ticket_no
    ticket = await ticket_of(sessions, first)
    assert ticket.external_deadline == ticket.deadline == due and ticket.origin_hotline == "12319"
    naive = await take_in(Message("事项三", channel="national_platform", metadata={"deadline": "2026-03-09T18:00"}))
    assert (await ticket_of(sessions, naive)).external_deadline is None


async def test_a_stored_message_is_found_and_answered_again_without_storing(sessions, rules, take_in):
    message = Message("垃圾没人清运")
    outcome = await take_in(message)
    async with sessions() as session:
        existing = await rules.stored_entry(session, message)
        assert existing is not None and existing.id == outcome.entry_id
        again = await rules.redelivered(session, message, existing)
        assert await rules.stored_entry(session, Message("别的")) is None
    assert again == Outcome("duplicate", outcome.reply, outcome.ticket_no, outcome.entry_id)
    assert len(await entries_of(sessions, outcome)) == 2


# --------------------------------------------------------------------------- which matter a message belongs to

FIRE = Classification(emergency={"number": "119", "kind": "fire"}, intent="emergency_fire", confidence=0.97,
                      request_type="help", model="nlu-test")
TRANSPORT = Classification(department="transport", request_type="complaint", intent="dept_transport",
                           confidence=0.9, model="nlu-test")


async def operator_says(sessions, ticket_no: str, text: str, at: datetime, *, public: bool = True) -> None:
    """An operator's reply (or, not public, an internal note) on the ticket, at a frozen time."""
    async with sessions() as session, session.begin():
        ticket = await store.ticket_by_number(session, ticket_no)
        conv = await store.conversation_of(session, ticket)
        await store.add_entry(session, conversation=conv, ticket=ticket, author="operator", author_name="李",
                              channel=ticket.channel, text=text, public=public, at=at,
                              meta={"operator": "li", "kind": "reply" if public else "note"})


async def test_a_new_matter_after_an_emergency_opens_a_ticket_of_its_own_and_says_so(sessions, take_in):
    sender = "s-" + uuid.uuid4().hex
    fire = await take_in(Message("我家楼下着火了！", sender_id=sender), FIRE)
    lamp = await take_in(Message("卫东区建设路的路灯坏了一个星期了", sender_id=sender), CLASSIFIED)
    assert lamp.kind == "ticket" and lamp.ticket_no != fire.ticket_no
    assert lamp.reply.startswith(texts.new_matter(fire.ticket_no)) and lamp.ticket_no in lamp.reply
    # An emergency record absorbs nothing, not even a message the NLU could not read; the
    # unclassified one joins the citizen's other open ticket instead (today's rule without the NLU).
    more = await take_in(Message("补充一下，是建设路中段", sender_id=sender))
    assert (more.kind, more.ticket_no) == ("followup", lamp.ticket_no)
    async with sessions() as session:
        fire_ticket = await store.ticket_by_number(session, fire.ticket_no)
        texts_on_fire = (await session.execute(select(Entry.text).where(
            Entry.ticket_id == fire_ticket.id, Entry.author == "citizen"))).scalars().all()
    assert texts_on_fire == ["我家楼下着火了！"]


async def test_a_follow_up_joins_only_the_same_matter_or_the_ticket_it_names(sessions, take_in):
    sender = "s-" + uuid.uuid4().hex
    first = await take_in(Message("马路上井盖丢了", sender_id=sender), CLASSIFIED)
    same = await take_in(Message("井盖还是没人管", sender_id=sender), CLASSIFIED)
    assert (same.kind, same.ticket_no) == ("followup", first.ticket_no)

    bus = await take_in(Message("3路公交车总是不按站停", sender_id=sender), TRANSPORT)
    assert bus.kind == "ticket" and bus.ticket_no != first.ticket_no
    assert bus.reply.startswith(texts.new_matter(first.ticket_no))
    # Naming a ticket in the text decides, whatever the NLU thinks of the words.
    named = await take_in(Message(f"{first.ticket_no} 这个工单的井盖有车压过", sender_id=sender), TRANSPORT)
    assert (named.kind, named.ticket_no) == ("followup", first.ticket_no)
    # Without the NLU a message joins the latest open ticket, as before, unless it names another one.
    unread = await take_in(Message("师傅说明天来", sender_id=sender))
    assert (unread.kind, unread.ticket_no) == ("followup", bus.ticket_no)
    other = await take_in(Message("我上次反映的 PDS2025010100001 怎么样了", sender_id=sender))
    assert other.kind == "ticket" and other.ticket_no not in (first.ticket_no, bus.ticket_no)


async def test_a_reply_to_a_question_joins_within_the_window_only(sessions, take_in):
    sender = "s-" + uuid.uuid4().hex
    first = await take_in(Message("马路上井盖丢了", sender_id=sender), CLASSIFIED)
    asked = MORNING + timedelta(minutes=1)
    await operator_says(sessions, first.ticket_no, "请问具体在哪个路口？", asked)
    answer = await take_in(Message("光明路和建设路路口，公交站旁边", sender_id=sender,
                                   received_at=asked + timedelta(minutes=9)), TRANSPORT)
    assert (answer.kind, answer.ticket_no) == ("followup", first.ticket_no)
    late = await take_in(Message("公交站的站牌也歪了", sender_id=sender, received_at=asked + timedelta(minutes=11)),
                         TRANSPORT)
    assert late.kind == "ticket" and late.ticket_no != first.ticket_no


async def test_contact_details_given_later_reach_the_ticket_and_its_progress_page(sessions, take_in):
    sender = "s-" + uuid.uuid4().hex
    first = await take_in(Message("楼道灯坏了", sender_id=sender, contact=ContactInfo()))
    assert (await ticket_of(sessions, first)).citizen_phone is None
    later = await take_in(Message("我的电话是 139-0000-2222，有事联系我", sender_id=sender, contact=ContactInfo()))
    assert (later.kind, later.ticket_no) == ("followup", first.ticket_no)
    # A number written in the chat is asked about first (tests/ticketing/intake/test_phone_confirmation.py).
    assert "您留的手机号是 139****2222，确认作为联系电话吗？" in later.reply
    assert (await ticket_of(sessions, later)).citizen_phone is None
    confirmed = await take_in(Message("确认", sender_id=sender, contact=ContactInfo()))
    assert (confirmed.ticket_no, confirmed.reply) == (first.ticket_no, texts.contact_recorded("139****2222"))
    form = await take_in(Message("麻烦尽快", sender_id=sender, contact=ContactInfo(name="王女士", phone="13700003333",
                                                                                email="w@example.cn")))
    ticket = await ticket_of(sessions, form)
    # What the citizen gave first stays; only what was missing is filled in.
    assert (ticket.citizen_phone, ticket.citizen_name, ticket.citizen_email) == (
        "13900002222", "王女士", "w@example.cn")
    async with sessions() as session:
        events = (await session.execute(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.action == "update").order_by(TicketEvent.id))).scalars()
        assert [(e.actor, e.field, e.to_value) for e in events] == [
            ("citizen", "citizen_phone", "13900002222"), ("citizen", "citizen_name", "王女士"),
            ("citizen", "citizen_email", "w@example.cn")]
        assert (await public_progress(session, first.ticket_no, "2222"))["ticket_no"] == first.ticket_no

    # A phone number in the very first message is the ticket's contact when the channel has none.
    written = await take_in(Message("电话13600004444，小区垃圾没人收", contact=ContactInfo()))
    assert (await ticket_of(sessions, written)).citizen_phone == "13600004444"


async def test_once_an_operator_has_replied_the_bot_only_acknowledges(sessions, take_in):
    sender = "s-" + uuid.uuid4().hex
    first = await take_in(Message("楼上漏水", sender_id=sender), CLASSIFIED)
    await operator_says(sessions, first.ticket_no, "内部备注：已联系物业", MORNING, public=False)
    night = datetime(2026, 3, 2, 23, 0, tzinfo=LOCAL_TZ)
    noted = await take_in(Message("还是在漏", sender_id=sender, received_at=night))
    assert noted.reply.startswith(texts.followup_ack(first.ticket_no)) and "非工作时间" in noted.reply

    await operator_says(sessions, first.ticket_no, "您好，已通知物业上门查看。", night)
    after = await take_in(Message("物业还没来", sender_id=sender, received_at=night + timedelta(minutes=30)))
    assert (after.kind, after.ticket_no, after.reply) == ("followup", first.ticket_no, texts.human_receipt())
    asked = await take_in(Message("公积金打哪个电话", sender_id=sender, received_at=night + timedelta(hours=1)), FAQ)
    assert (asked.kind, asked.ticket_no, asked.reply) == ("followup", first.ticket_no, texts.human_receipt())
    # An emergency is still told the number at once.
    fire = await take_in(Message("楼下着火了", sender_id=sender, received_at=night + timedelta(hours=2)), FIRE)
    assert fire.kind == "emergency" and "119" in fire.reply
