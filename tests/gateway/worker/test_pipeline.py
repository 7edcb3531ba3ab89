"""The pipeline: its replies outside the network hotline's shift (长白班), and what it hands the intake."""

import dataclasses
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from connectors.base import AttachmentRef, Contact, InboundMessage
from gateway.worker.pipeline import classification_of
from gateway.worker.service import PIPELINE
from nlu.client import NluResult
from ticketing.db.models.tickets import Entry
from ticketing.intake import texts
from ticketing.intake.contract import Classification, IntakeAttachment, IntakeContact, IntakeMessage
from ticketing.tickets import store
from ticketing.tickets.progress import public_progress

BEIJING = ZoneInfo("Asia/Shanghai")


def message(at: datetime, sender: str, text: str = "小区门口路灯坏了一个星期") -> InboundMessage:
    return InboundMessage(channel="web", native_id=uuid.uuid4().hex, sender_id=sender, text=text,
                          received_at=at, contact=Contact(phone="13900001111"))


@pytest.fixture
async def pipeline(make_client):
    return (await make_client(run_worker=False)).app[PIPELINE]


async def test_a_ticket_opened_at_night_says_when_an_operator_will_reply(pipeline):
    night = datetime(2026, 3, 2, 23, 30, tzinfo=BEIJING)
    outcome = await pipeline.process(message(night, "s-" + uuid.uuid4().hex))
    assert outcome.kind == "ticket"
    assert "非工作时间" in outcome.reply
    assert "3月3日" in outcome.reply  # the next shift starts the next morning


async def test_a_follow_up_at_night_says_so_too(pipeline):
    sender = "s-" + uuid.uuid4().hex
    night = datetime(2026, 3, 2, 23, 30, tzinfo=BEIJING)
    await pipeline.process(message(night, sender))
    outcome = await pipeline.process(message(night, sender, "补充一下：在小区东门"))
    assert outcome.kind == "followup"
    assert "非工作时间" in outcome.reply


async def test_a_ticket_opened_during_the_shift_has_no_off_hours_note(pipeline):
    morning = datetime(2026, 3, 2, 10, 0, tzinfo=BEIJING)
    outcome = await pipeline.process(message(morning, "s-" + uuid.uuid4().hex))
    assert outcome.kind == "ticket"
    assert outcome.ticket_no and outcome.ticket_no in outcome.reply
    assert "非工作时间" not in outcome.reply


async def test_each_written_web_message_is_a_ticket_of_its_own(pipeline):
    sender = "s-" + uuid.uuid4().hex
    morning = datetime(2026, 3, 2, 10, 0, tzinfo=BEIJING)

    def form(title: str, text: str) -> InboundMessage:
        return InboundMessage(channel="web", native_id=uuid.uuid4().hex, sender_id=sender, text=text,
                              received_at=morning, contact=Contact(phone="13900001111"),
                              metadata={"force_ticket": True, "title": title})

    first = await pipeline.process(form("路灯不亮", "建设路路灯坏了一周"))
    second = await pipeline.process(form("噪音扰民", "小区旁工地夜间施工"))
    assert first.kind == second.kind == "ticket"
    assert first.ticket_no != second.ticket_no


def test_a_connector_message_is_what_the_intake_takes():
    attachment = AttachmentRef("lamp.jpg", "image/jpeg", 3, "k/lamp", "image")
    inbound = message(datetime(2026, 3, 2, 10, 0, tzinfo=BEIJING), "s-1")
    inbound = dataclasses.replace(inbound, attachments=(attachment,))
    assert isinstance(inbound, IntakeMessage)
    assert isinstance(inbound.contact, IntakeContact) and isinstance(attachment, IntakeAttachment)


def test_the_nlu_result_becomes_the_intake_s_classification():
    result = NluResult(request_type="complaint", department="market_supervision",
                       request_type_alternatives=[{"code": "complaint", "confidence": 0.7},
                                                  {"code": "report", "confidence": 0.2}],
                       department_alternatives=[{"code": "health", "confidence": 0.2}], region="zhanhe",
                       handoff=True, intent={"name": "dept_market_supervision", "confidence": 0.91}, model="nlu-1")
    assert classification_of(result) == Classification(
        handoff=True, department="market_supervision", region="zhanhe", request_type="complaint",
        alternatives=({"code": "health", "confidence": 0.2},), intent="dept_market_supervision", confidence=0.91,
        request_type_alternatives=({"code": "complaint", "confidence": 0.7}, {"code": "report", "confidence": 0.2}),
        model="nlu-1")
    assert classification_of(NluResult()) == Classification()
    faq = NluResult(faq={"key": "faq/x", "answer": "答"}, handoff=False)
    assert classification_of(faq).faq == {"key": "faq/x", "answer": "答"} and not classification_of(faq).handoff


async def test_after_an_operator_s_reply_the_bot_only_acknowledges_and_keeps_the_phone(pipeline):
    sender = "s-" + uuid.uuid4().hex
    night = datetime(2026, 3, 2, 23, 30, tzinfo=BEIJING)
    first = await pipeline.process(dataclasses.replace(message(night, sender), contact=Contact()))
    async with pipeline.sessions() as session, session.begin():
        ticket = await store.ticket_by_number(session, first.ticket_no)
        await store.add_entry(session, conversation=await store.conversation_of(session, ticket), ticket=ticket,
                              author="operator", author_name="李", channel="web", text="您好，已转城管部门。",
                              meta={"operator": "li", "kind": "reply"})
    later = await pipeline.process(dataclasses.replace(message(night, sender, "灯还是不亮，我电话 13900005555"),
                                                       contact=Contact()))
    assert (later.kind, later.ticket_no) == ("followup", first.ticket_no)
    assert later.reply.startswith(texts.human_receipt()) and "非工作时间" not in later.reply
    # A number written in the chat is the contact once the citizen confirms it (issue #14, item 2).
    assert later.reply.endswith("您留的手机号是 139****5555，确认作为联系电话吗？")
    async with pipeline.sessions() as session:
        assert await public_progress(session, first.ticket_no, "5555") is None
    yes = await pipeline.process(dataclasses.replace(message(night, sender, "确认"), contact=Contact()))
    assert (yes.ticket_no, yes.reply) == (first.ticket_no, texts.contact_recorded("139****5555"))
    async with pipeline.sessions() as session:
        assert await public_progress(session, first.ticket_no, "5555") is not None
        bot = (await session.execute(select(Entry).where(Entry.author == "bot", Entry.ticket_id == ticket.id)
                                     .order_by(Entry.id.desc()).limit(1))).scalar_one()
    assert bot.text == yes.reply
