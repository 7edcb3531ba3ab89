"""E-mail thread hijack (issue #12, item 8), through the real SMTP server and the worker.

Anyone who put another citizen's ticket number in a subject (or answered that citizen's mail
thread) joined that ticket, reopened it when answered, and the official reply then went out
under the attacker's subject.  Now only the ticket's own sender joins it; anyone else gets a new
ticket that refers to the named one, which operators see on both.
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from connectors.email import bound_address
from gateway.channels.wiring import CHANNELS
from gateway.infra.resources import SESSIONS
from tests.gateway.conftest import eventually
from ticketing.db.models.tickets import Entry, Ticket, TicketEvent
from ticketing.tickets import store
from ticketing.tickets.lifecycle import Action

MAILBOX = "mayor@12345.pds.gov.cn"
VICTIM = "victim@example.com"
ATTACKER = "attacker@example.net"


@pytest.fixture
async def mailbox(make_client, monkeypatch):
    monkeypatch.setenv("HOTLINE_SMTP_PORT", "0")
    client = await make_client(services={"smtp"})
    host, port = bound_address(client.app[CHANNELS]["email"].server)
    return client, host, port


def _send(host, port, subject, body, sender, **headers):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, MAILBOX, subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    with smtplib.SMTP(host, port, timeout=10) as smtp:
        return smtp.send_message(msg)


async def _tickets(app) -> list[Ticket]:
    async with app[SESSIONS]() as session:
        return list((await session.execute(select(Ticket).where(Ticket.channel == "email")
                                           .order_by(Ticket.id))).scalars())


async def _victim_ticket(client, host, port) -> Ticket:
    await asyncio.to_thread(_send, host, port, "卫东区建设路井盖丢失", "建设路与优越路口井盖丢了，很危险。电话13837512345。",
                            VICTIM, Message_ID="<victim-0001@mail.example.com>")
    return (await eventually(lambda: _tickets(client.app)))[0]


@pytest.mark.parametrize("how", ["number_in_subject", "in_reply_to"])
async def test_a_stranger_naming_a_ticket_gets_a_ticket_of_their_own(mailbox, how):
    client, host, port = mailbox
    victim = await _victim_ticket(client, host, port)
    # The victim's case was answered: the hijack used to reopen it.
    async with client.app[SESSIONS]() as session, session.begin():
        ticket = await store.ticket_by_number(session, victim.number)
        await store.transition(session, ticket, Action.ANSWER, actor="li")
    headers = ({"In_Reply_To": "<victim-0001@mail.example.com>", "References": "<victim-0001@mail.example.com>"}
               if how == "in_reply_to" else {})
    await asyncio.to_thread(_send, host, port, f"Re: 退款到这个账户 {victim.number}", "请把答复发给我。", ATTACKER,
                            **headers)

    tickets = await eventually(lambda: _two(client.app))
    mine, theirs = tickets
    assert mine.number == victim.number and mine.status == "answered"  # not reopened
    assert theirs.citizen_email == ATTACKER and theirs.citizen_phone is None
    async with client.app[SESSIONS]() as session:
        victim_entries = (await session.execute(select(Entry).where(
            Entry.ticket_id == mine.id, Entry.author == "citizen"))).scalars().all()
        assert len(victim_entries) == 1  # the stranger's text is not on the victim's ticket
        stranger = (await session.execute(select(Entry).where(
            Entry.ticket_id == theirs.id, Entry.author == "citizen"))).scalar_one()
        assert stranger.meta["refers_to_ticket"] == victim.number
        events = (await session.execute(select(TicketEvent.ticket_id, TicketEvent.action, TicketEvent.to_value,
                                               TicketEvent.from_value)
                                        .where(TicketEvent.action.in_(["refers_to", "referred_by"])))).all()
    assert {(t, a) for t, a, *_ in events} == {(theirs.id, "refers_to"), (mine.id, "referred_by")}


async def _two(app):
    tickets = await _tickets(app)
    return tickets if len(tickets) == 2 else None


async def test_the_ticket_s_own_sender_still_joins_by_number(mailbox):
    client, host, port = mailbox
    victim = await _victim_ticket(client, host, port)
    await asyncio.to_thread(_send, host, port, f"Re: 卫东区建设路井盖丢失 [{victim.number}]", "补充：井口在人行道上。",
                            VICTIM)

    async def joined():
        async with client.app[SESSIONS]() as session:
            rows = (await session.execute(select(Entry.id).where(Entry.ticket_id == victim.id,
                                                                 Entry.author == "citizen"))).all()
        return len(rows) == 2

    await eventually(joined)
    assert len(await _tickets(client.app)) == 1
