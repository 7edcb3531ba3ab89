"""An answer given on a main ticket reaches every merged duplicate's citizen through their own channel,
stored on the duplicate first; the duplicate's progress then shows it once."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from connectors.email import bound_address
from gateway.channels.wiring import CHANNELS
from gateway.infra.resources import SESSIONS
from gateway.web.console import actions
from tests.gateway.conftest import eventually
from tests.gateway.web.console.conftest import make_ticket
from tests.gateway.web.console.loop_helpers import body_of, relay_sink
from ticketing.accounts.roles import Actor
from ticketing.db.models.tickets import Entry, Ticket, TicketEvent

OPERATOR = Actor("li", "李坐席", "operator")
ANSWER = "已通知城管部门，路灯将于本周五前修复。"


async def _entries(app, number: str) -> list[Entry]:
    async with app[SESSIONS]() as session:
        stmt = select(Entry).join(Ticket, Entry.ticket_id == Ticket.id).where(Ticket.number == number)
        return list((await session.execute(stmt.order_by(Entry.id))).scalars())


async def test_the_main_tickets_answer_reaches_every_merged_citizen(make_client, monkeypatch):
    async with relay_sink(monkeypatch) as relay:
        monkeypatch.setenv("HOTLINE_SMTP_PORT", "0")
        client = await make_client(services={"smtp"})
        app = client.app
        assert bound_address(app[CHANNELS]["email"].server)
        chat = "s" + uuid.uuid4().hex
        main = await make_ticket(app, text="建设路路灯不亮", phone=None, name=None)  # an anonymous chat
        by_mail = await make_ticket(app, channel="email", sender="zhang@example.cn", email="zhang@example.cn",
                                    text="建设路路灯坏了很久", subject="建设路路灯", message_id="<m1@example.cn>")
        by_chat = await make_ticket(app, sender=chat, phone="13900001111", text="建设路的路灯还没修")
        await actions.merge(app, OPERATOR, by_mail, main)
        await actions.merge(app, OPERATOR, by_chat, main)

        await actions.reply(app, OPERATOR, main, ANSWER)

        async def mailed():
            return [m for m in relay.mails if "zhang@example.cn" in m.rcpt_tos and ANSWER in body_of(m.message)]

        mail = (await eventually(mailed))[0].message
        assert f"已与工单 {main} 合并办理" in body_of(mail) and by_mail in body_of(mail)
        history = await (await client.get(f"/api/v1/web/sessions/{chat}/messages")).json()
        assert any(ANSWER in m["text"] and m["author"] == "operator" for m in history["messages"])
        for number in (by_mail, by_chat):
            copies = [e for e in await _entries(app, number) if ANSWER in e.text]
            assert len(copies) == 1 and copies[0].public and copies[0].delivery_status == "sent", number

    # The duplicate's citizen looks it up with their own number and phone: the main ticket's progress,
    # the answer once.
    body = await (await client.get(f"/api/v1/tickets/{by_mail}", params={"phone_last4": "2345"})).json()
    assert body["ticket_no"] == by_mail and body["merged_into"] == main
    assert body["status"] == "pending_review" and body["status_label"] == "待审核"
    texts = [r["text"] for r in body["replies"]]
    assert ANSWER not in texts and sum(ANSWER in t for t in texts) == 1  # the copy, not the main's entry too


async def test_the_merge_gives_the_main_ticket_the_duplicates_contact(make_client):
    client = await make_client(run_worker=False)
    app = client.app
    main = await make_ticket(app, phone=None, name=None)
    dup = await make_ticket(app, phone="13837512345", name="张先生", email="zhang@example.cn")
    await actions.merge(app, OPERATOR, dup, main)
    async with app[SESSIONS]() as session:
        ticket = (await session.execute(select(Ticket).where(Ticket.number == main))).scalar_one()
        assert (ticket.citizen_phone, ticket.citizen_name, ticket.citizen_email) == (
            "13837512345", "张先生", "zhang@example.cn")
        audited = (await session.execute(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.action == "update"))).scalars().all()
        assert {(e.field, e.detail.get("merged_from")) for e in audited} >= {
            ("citizen_phone", dup), ("citizen_name", dup), ("citizen_email", dup)}
    # The main ticket's own citizen can now be found by the contact it lacked.
    resp = await client.get(f"/api/v1/tickets/{main}", params={"phone_last4": "2345"})
    assert resp.status == 200 and (await resp.json())["merged_into"] is None
