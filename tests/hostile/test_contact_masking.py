"""Issue #12 item 9: a phone number or an e-mail address the citizen typed into the message is as
private as the contact field: masked for whoever may not reveal the contact, in the ticket and in the
queue, shown to the operator handling it."""

from __future__ import annotations

import json

from tests.gateway.web.console.conftest import console, console_settings, make_ticket  # noqa: F401

WORDS = "我是张三，电话 138 3751 2345，邮箱 zhang.san@example.com，家里座机 0375-2661234，路灯坏了"


async def _ticket(agent, number: str) -> dict:
    return (await (await agent.get(f"/api/v1/console/tickets/{number}")).json())["ticket"]


async def test_contacts_in_the_citizens_words_are_masked_for_those_who_may_not_reveal(console):  # noqa: F811
    client, agent, _user = console
    number = await make_ticket(client.app, text=WORDS, subject="13837512345 的诉求")
    other = await agent("wang")
    seen = json.dumps(await _ticket(other, number), ensure_ascii=False)
    for secret in ("3751 2345", "13837512345", "zhang.san@", "2661234".join(("0375-", ""))):
        assert secret not in seen, secret
    assert "138****2345" in seen and "z***@example.com" in seen
    queue = json.dumps(await (await other.get("/api/v1/console/tickets?status=all")).json(), ensure_ascii=False)
    assert "3751 2345" not in queue and "zhang.san@" not in queue

    handler = await agent("li")
    assert (await handler.post(f"/api/v1/console/tickets/{number}/claim")).status == 200
    shown = json.dumps(await _ticket(handler, number), ensure_ascii=False)
    assert "138 3751 2345" in shown and "zhang.san@example.com" in shown
    still_hidden = json.dumps(await _ticket(other, number), ensure_ascii=False)
    assert "zhang.san@" not in still_hidden


async def test_a_search_by_phone_number_is_audited(console):  # noqa: F811
    from sqlalchemy import select

    from gateway.infra.resources import SESSIONS
    from ticketing.db.models.accounts import AuditLog

    client, agent, _user = console
    await make_ticket(client.app, phone="13837512345")
    other = await agent("wang")
    found = await (await other.get("/api/v1/console/tickets?q=138 3751 2345")).json()
    assert len(found["tickets"]) == 1
    assert (await other.get("/console?q=13837512345")).status == 200
    await other.get("/api/v1/console/tickets?q=路灯")  # a word is no phone number: not audited
    async with client.app[SESSIONS]() as session:
        rows = (await session.execute(select(AuditLog).where(AuditLog.action == "search_phone")
                                      .order_by(AuditLog.id))).scalars().all()
    assert [(r.actor, r.target, r.detail["found"]) for r in rows] == [("wang", "138****2345", 1)] * 2


async def test_the_original_email_is_only_for_who_may_reveal_the_contact(console):  # noqa: F811
    from gateway.infra.resources import ATTACHMENTS, SESSIONS
    from ticketing.db.models.tickets import Attachment, Ticket
    from ticketing.tickets.store import ticket_by_number

    client, agent, _user = console
    number = await make_ticket(client.app, channel="email", email="zhang.san@example.com", text=WORDS)
    path = client.app[ATTACHMENTS].path_of("mail/original.eml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"From: zhang.san@example.com\r\nSubject: x\r\n\r\nbody\r\n")
    async with client.app[SESSIONS]() as session, session.begin():
        ticket: Ticket = await ticket_by_number(session, number)
        att = Attachment(ticket_id=ticket.id, filename="original.eml", content_type="message/rfc822",
                         size=path.stat().st_size, storage_key="mail/original.eml", kind="original_email")
        session.add(att)
    other = await agent("wang")
    view = await _ticket(other, number)
    assert [a["url"] for a in view["loose_attachments"]] == [None]
    assert (await other.get(f"/console/attachments/{att.id}")).status == 403
    handler = await agent("li")
    await handler.post(f"/api/v1/console/tickets/{number}/claim")
    assert (await handler.get(f"/console/attachments/{att.id}")).status == 200
