"""The bot gathers what a chat ticket needs before the operators see it (issue #19), on the rules alone:
the dialogue state the worker keeps in Redis is handed from one outcome to the next message here."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.ticketing.factories import DIRECTORY
from tests.ticketing.intake.test_rules import MORNING, Message, operator_says, ticket_of
from ticketing.db.models.tickets import Entry, TicketEvent
from ticketing.intake import texts
from ticketing.intake.batch import BatchIntake
from ticketing.intake.contract import Classification, Outcome
from ticketing.intake.gathering import SKIP, Gatherer, place_in, region_in, release_due, time_in
from ticketing.intake.rules import IntakeRules
from ticketing.tickets.lifecycle import Status
from ticketing.tickets.store import ContactInfo

LAMP = Classification(handoff=True, department="urban_management", region=None, request_type="complaint",
                      alternatives=({"code": "urban_management", "confidence": 0.9},), intent="dept_urban_management",
                      confidence=0.9, model="nlu-test")
TORN = Classification(handoff=True, department="urban_management", region="weidong", request_type="complaint",
                      alternatives=({"code": "urban_management", "confidence": 0.48},
                                    {"code": "housing_construction", "confidence": 0.44}),
                      intent="dept_urban_management", confidence=0.48, model="nlu-test",
                      torn=("urban_management", "housing_construction"))


NOTHING = Classification()  # what the NLU makes of a bare answer like "光明路口" (no department)


class Chat:
    """One citizen's chat, keeping the dialogue state between messages as the worker does."""

    def __init__(self, sessions, channel: str = "web", phone: str | None = "13900001111") -> None:
        self.rules = IntakeRules(sessions, DIRECTORY)
        self.sessions = sessions
        self.channel = channel
        self.sender = "s-" + uuid.uuid4().hex
        self.phone = phone
        self.state: dict | None = None
        self.minutes = 0.0

    async def say(self, text: str, classification: Classification = NOTHING, *, after: float = 1) -> Outcome:
        self.minutes += after
        message = Message(text, channel=self.channel, sender_id=self.sender, contact=ContactInfo(phone=self.phone),
                          received_at=MORNING + timedelta(minutes=self.minutes))
        async with self.sessions() as session, session.begin():
            outcome = await self.rules.take_in(session, message, classification, self.state)
        if outcome.dialogue is not None:
            self.state = outcome.dialogue or None
        return outcome


async def events_of(sessions, ticket_id: int) -> list[TicketEvent]:
    async with sessions() as session:
        return list((await session.execute(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                                           .order_by(TicketEvent.id))).scalars())


def test_places_times_and_regions_are_read_from_the_words():
    assert place_in("新华区光明路与建设路交叉口的路灯不亮") == "新华区光明路与建设路交叉口"
    assert place_in("小区门口的路灯坏了") is None and place_in("路灯坏了，路面也坏了") is None
    assert place_in("我家小区门口路灯坏了") is None
    assert place_in("就在锦绣花园3号楼门口") == "锦绣花园3号楼门口"
    assert time_in("昨晚11点开始一直很吵") == "昨晚" and time_in("路灯坏了") is None
    assert region_in(DIRECTORY, "在郏县城关镇") == "jiaxian" and region_in(DIRECTORY, "在城关镇") is None


def test_the_slots_come_from_the_directory():
    gatherer = Gatherer(DIRECTORY)
    assert gatherer.needed("web", "consult", "urban_management") == ()
    assert gatherer.needed("web", "complaint", "urban_management") == ("location", "contact_phone")
    assert gatherer.needed("wechat", "complaint", "urban_management") == ("location",)  # the openid is the way back
    assert gatherer.needed("web", "report", "health") == ("location", "time", "contact_phone")


async def test_a_street_light_without_a_place_gets_one_location_question_and_the_answer_routes_it(sessions):
    chat = Chat(sessions)
    first = await chat.say("小区门口的路灯坏了好几天了", LAMP)
    assert first.kind == "ticket" and first.reply.startswith(texts.gathering_receipt(first.ticket_no))
    assert "请问事情发生在哪里" in first.reply and first.reply.count("？") == 1
    assert "新华区" in first.quick_replies and SKIP in first.quick_replies
    ticket = await ticket_of(sessions, first)
    assert ticket.status == Status.GATHERING and ticket.gathering_until == MORNING + timedelta(minutes=11)
    assert ticket.event_time == "好几天"

    answer = await chat.say("郏县城关镇光明路与建设路交叉口")
    assert (answer.kind, answer.ticket_no) == ("followup", first.ticket_no)
    assert answer.reply.startswith("谢谢，信息已补充") and answer.dialogue == {}
    ticket = await ticket_of(sessions, answer)
    assert (ticket.region, ticket.location_detail) == ("jiaxian", "郏县城关镇光明路与建设路交叉口")
    assert ticket.status == Status.PENDING_REVIEW and ticket.gathering_gaps is None and ticket.gathering_until is None
    actions = [e.action for e in await events_of(sessions, ticket.id)]
    assert actions.count("gathered") == 1 and "hand_over" in actions
    async with sessions() as session:
        bots = list((await session.execute(select(Entry).where(Entry.ticket_id == ticket.id, Entry.author == "bot")
                                           .order_by(Entry.id))).scalars())
    assert [b.meta.get("gather") for b in bots] == ["location", None]  # exactly one question


async def test_a_complaint_that_names_the_place_gets_no_question(sessions):
    chat = Chat(sessions)
    outcome = await chat.say("卫东区建设路与光明路交叉口的路灯坏了", LAMP)
    ticket = await ticket_of(sessions, outcome)
    assert outcome.dialogue is None and "？" not in outcome.reply
    assert (ticket.status, ticket.location_detail) == (Status.PENDING_REVIEW, "卫东区建设路与光明路交叉口")


async def test_the_citizen_may_skip_and_the_gap_is_flagged(sessions):
    chat = Chat(sessions, phone=None)
    first = await chat.say("马路上的井盖丢了", LAMP)
    assert "请问事情发生在哪里" in first.reply
    second = await chat.say("不方便提供")
    assert second.reply.startswith("好的。") and "手机号" in second.reply and "不会公开" in second.reply
    third = await chat.say("0")  # WeChat's way to skip works everywhere
    ticket = await ticket_of(sessions, third)
    assert ticket.status == Status.PENDING_REVIEW
    assert ticket.gathering_gaps == [{"slot": "location", "reason": "declined"},
                                     {"slot": "contact_phone", "reason": "declined"}]


async def test_two_questions_at_most_then_the_rest_is_flagged(sessions):
    chat = Chat(sessions, phone=None)
    report = Classification(handoff=True, department="health", request_type="report", region=None, confidence=0.9,
                            intent="dept_health")
    await chat.say("有个诊所非法行医", report)
    await chat.say("卫东区东环路口")
    second = await chat.say("上周三")
    ticket = await ticket_of(sessions, second)
    assert (ticket.location_detail, ticket.event_time) == ("卫东区东环路口", "上周三")
    assert ticket.status == Status.PENDING_REVIEW
    assert ticket.gathering_gaps == [{"slot": "contact_phone", "reason": "not_asked"}]


async def test_a_phone_answer_is_taken_without_a_second_question(sessions):
    chat = Chat(sessions, phone=None)
    await chat.say("新华区光明路的路灯坏了", LAMP)
    answer = await chat.say("13900002222")
    ticket = await ticket_of(sessions, answer)
    assert ticket.citizen_phone == "13900002222" and ticket.status == Status.PENDING_REVIEW


async def test_the_clarifying_question_sets_the_department_and_stays_on_the_timeline(sessions):
    chat = Chat(sessions)
    first = await chat.say("卫东区建设路的小区里井盖坏了", TORN)
    assert "您反映的是市城市管理局的事项，还是市住房和城乡建设局的事项？" in first.reply
    assert first.quick_replies[:2] == ("市城市管理局", "市住房和城乡建设局")
    answer = await chat.say("市住房和城乡建设局")
    ticket = await ticket_of(sessions, answer)
    assert ticket.department == "housing_construction" and ticket.status == Status.PENDING_REVIEW
    [clarified] = [e for e in await events_of(sessions, ticket.id) if e.action == "clarified"]
    assert (clarified.from_value, clarified.to_value) == ("urban_management", "housing_construction")
    assert "还是" in clarified.detail["question"] and clarified.detail["answer"] == "市住房和城乡建设局"


async def test_a_short_form_of_a_department_answers_the_clarifying_question_by_the_nlu(sessions):
    chat = Chat(sessions)
    await chat.say("卫东区建设路的小区里井盖坏了", TORN)
    housing = Classification(handoff=True, department="housing_construction", intent="dept_housing_construction",
                             confidence=0.7, model="nlu-test")
    answer = await chat.say("住建那边管的", housing)
    ticket = await ticket_of(sessions, answer)
    assert ticket.department == "housing_construction" and ticket.status == Status.PENDING_REVIEW


async def test_a_long_message_is_no_answer_to_the_clarifying_question_even_with_one_of_the_departments(sessions):
    chat = Chat(sessions)
    await chat.say("卫东区建设路的小区里井盖坏了", TORN)
    housing = Classification(handoff=True, department="housing_construction", intent="dept_housing_construction",
                             confidence=0.7, model="nlu-test")
    await chat.say("另外我们楼的外墙瓷砖也掉了好几块，物业一直不修，住建部门能不能管管", housing)
    ticket = await ticket_of(sessions, await chat.say("市城市管理局"))
    assert ticket.department == "urban_management"


async def test_wechat_numbers_the_choices(sessions):
    chat = Chat(sessions, channel="wechat", phone=None)
    first = await chat.say("卫东区建设路的小区里井盖坏了", TORN)
    assert "回复1：市城市管理局；回复2：市住房和城乡建设局" in first.reply
    answer = await chat.say("2")
    assert (await ticket_of(sessions, answer)).department == "housing_construction"


async def test_an_unanswered_question_releases_the_ticket_with_the_gap_flagged(sessions):
    chat = Chat(sessions)
    first = await chat.say("小区门口的路灯坏了", LAMP)
    gatherer = Gatherer(DIRECTORY)
    async with sessions() as session, session.begin():
        assert await release_due(session, gatherer, MORNING + timedelta(minutes=5)) == []
    async with sessions() as session, session.begin():
        [released] = await release_due(session, gatherer, MORNING + timedelta(minutes=12))
    assert (released.ticket_no, released.reason, released.sender_id) == (first.ticket_no, "unanswered", chat.sender)
    ticket = await ticket_of(sessions, first)
    assert ticket.status == Status.PENDING_REVIEW
    assert ticket.gathering_gaps == [{"slot": "location", "reason": "unanswered"}]
    late = await chat.say("光明路", after=30)  # the state is gone: an ordinary follow-up
    assert late.reply.startswith(texts.followup_ack(first.ticket_no))


async def test_once_an_operator_took_over_the_bot_asks_nothing(sessions):
    chat = Chat(sessions, phone=None)
    first = await chat.say("小区门口的路灯坏了", LAMP)
    await operator_says(sessions, first.ticket_no, "您好，请问具体是哪个小区？", MORNING + timedelta(minutes=1, seconds=30))
    after = await chat.say("光明路口")
    assert after.reply == texts.human_receipt() and after.dialogue == {}
    ticket = await ticket_of(sessions, after)
    assert ticket.status == Status.PENDING_REVIEW and ticket.location_detail is None
    assert {gap["reason"] for gap in ticket.gathering_gaps} == {"operator"}


@pytest.mark.parametrize("channel", ["email", "national_platform"])
async def test_one_shot_channels_are_never_asked_but_flagged(sessions, channel):
    chat = Chat(sessions, channel=channel, phone=None)
    outcome = await chat.say("路灯坏了", LAMP)
    ticket = await ticket_of(sessions, outcome)
    assert ticket.status == Status.PENDING_REVIEW and outcome.dialogue is None and "？" not in outcome.reply
    assert ticket.gathering_gaps == [{"slot": "location", "reason": "one_shot"},
                                     {"slot": "contact_phone", "reason": "one_shot"}]


async def test_the_batch_path_flags_a_letters_gaps_as_the_rules_do(sessions):
    batch = BatchIntake(DIRECTORY, None)
    letter = Message("路灯坏了，请尽快修", channel="email", contact=ContactInfo(email="a@example.com"))
    chat = Message("新华区光明路的路灯坏了", channel="web")
    async with sessions() as session, session.begin():
        outcomes = await batch.take_in(session, [(letter, LAMP), (chat, LAMP)])
    emailed, chatted = [await ticket_of(sessions, outcome) for outcome in outcomes]
    assert emailed.gathering_gaps == [{"slot": "location", "reason": "one_shot"},
                                      {"slot": "contact_phone", "reason": "one_shot"}]
    assert (chatted.gathering_gaps, chatted.region, chatted.location_detail) == (None, "xinhua", "新华区光明路")


async def test_a_number_written_meanwhile_is_confirmed_as_before_and_the_question_stays_open(sessions):
    chat = Chat(sessions, phone=None)
    await chat.say("小区门口的路灯坏了", LAMP)
    noted = await chat.say("我电话 13700002222")
    assert noted.reply.endswith("您留的手机号是 137****2222，确认作为联系电话吗？") and noted.dialogue is None
    answer = await chat.say("郏县城关镇光明路口")
    assert "请留下您的手机号" in answer.reply
    ticket = await ticket_of(sessions, answer)
    assert (ticket.region, ticket.location_detail, ticket.status) == ("jiaxian", "郏县城关镇光明路口", Status.GATHERING)


async def test_an_emergency_meanwhile_sends_the_ticket_to_the_operators_at_once(sessions):
    chat = Chat(sessions)
    first = await chat.say("小区门口的路灯坏了", LAMP)
    fire = Classification(handoff=True, emergency={"number": "119", "kind": "fire"})
    alarm = await chat.say("路灯的电线着火了！", fire)
    assert alarm.kind == "emergency" and alarm.ticket_no == first.ticket_no and alarm.dialogue == {}
    ticket = await ticket_of(sessions, alarm)
    assert ticket.status == Status.PENDING_REVIEW and ticket.urgent
    assert ticket.gathering_gaps == [{"slot": "location", "reason": "urgent"}]


async def test_a_word_that_answers_nothing_leaves_the_question_open(sessions):
    chat = Chat(sessions)
    first = await chat.say("小区门口的路灯坏了", LAMP)
    filler = await chat.say("好的")
    assert filler.reply == texts.followup_ack(first.ticket_no) and filler.dialogue is None
    assert (await ticket_of(sessions, filler)).location_detail is None
    answer = await chat.say("新华区光明路锦绣花园北门")
    assert (await ticket_of(sessions, answer)).location_detail == "新华区光明路锦绣花园北门"


async def _made(sessions, outcome: Outcome) -> tuple:
    """What an outcome left behind, without its ids and numbers: the ticket, its entries and events."""
    ticket = await ticket_of(sessions, outcome)
    async with sessions() as session:
        entries = (await session.execute(select(Entry).where(Entry.ticket_id == ticket.id).order_by(Entry.id))).scalars()
        entry_rows = [(e.author, e.text.replace(outcome.ticket_no, "N"),
                       {k: v for k, v in (e.meta or {}).items() if k not in ("in_reply_to", "dialogue")},
                       bool((e.meta or {}).get("dialogue"))) for e in entries]
    events = [(e.actor, e.action, e.field, e.to_value) for e in await events_of(sessions, ticket.id)]
    fields = (ticket.status, ticket.region, ticket.department, ticket.request_type, ticket.location_detail,
              ticket.event_time, ticket.citizen_phone, ticket.gathering_until, ticket.gathering_gaps)
    dialogue = dict(outcome.dialogue or {}, ticket_no="N") if outcome.dialogue else outcome.dialogue
    return (outcome.kind, outcome.reply.replace(outcome.ticket_no, "N"), outcome.quick_replies, dialogue,
            fields, entry_rows, events)


@pytest.mark.parametrize("channel", ["web", "wechat"])
async def test_the_batch_path_asks_the_first_question_as_the_rules_do(sessions, channel):
    # A ticket the bot asks about takes the set-based batch too (issue #15): the same ticket, entries,
    # events, reply, quick replies and dialogue state as the rules make, for a missing place, a
    # missing phone (web chat only), and a clarifying question.
    cases = [("小区门口的路灯坏了好几天了", LAMP, "13900001111"),
             ("新华区光明路的路灯坏了", LAMP, None),
             ("卫东区建设路有个工地晚上一直施工", TORN, "13900001111")]
    batch, rules = BatchIntake(DIRECTORY, None), IntakeRules(sessions, DIRECTORY)
    for text, classification, phone in cases:
        def said() -> Message:
            return Message(text, channel=channel, contact=ContactInfo(phone=phone), received_at=MORNING)
        async with sessions() as session, session.begin():
            [by_batch] = await batch.take_in(session, [(said(), classification)])
        async with sessions() as session, session.begin():
            by_rules = await rules.take_in(session, said(), classification, None)
        # WeChat has the openid as its way back: a missing phone is no question there.
        asks = channel == "web" or phone is not None
        assert by_batch is not None and bool(by_batch.dialogue) == asks, text
        assert await _made(sessions, by_batch) == await _made(sessions, by_rules), text
