"""A ticket another operator holds (issue #12, item 12, IDOR).

Replies already needed the ticket to be free or one's own; notes and merges did not, so any
operator could write into, or fold a duplicate into, a colleague's case.  Now the same rule holds
for all of them, through the JSON API and the pages; a supervisor may step in (audited).
"""

from __future__ import annotations

from sqlalchemy import select

from gateway.infra.resources import SESSIONS
from tests.gateway.web.console.conftest import console, console_settings, make_ticket  # noqa: F401
from ticketing.db.models.accounts import AuditLog
from ticketing.db.models.tickets import Entry, Ticket

API = "/api/v1/console/tickets"


async def _held_by_wang(client, agent):
    wang = await agent("wang")
    li = await agent("li")
    held = await make_ticket(client.app, text="王的工单：建设路路灯不亮")
    free = await make_ticket(client.app, text="另一件：建设路路灯还是不亮")
    assert (await wang.post(f"{API}/{held}/claim")).status == 200
    return wang, li, held, free


async def _state(app, number: str) -> tuple[str, int]:
    async with app[SESSIONS]() as session:
        ticket = (await session.execute(select(Ticket).where(Ticket.number == number))).scalar_one()
        notes = (await session.execute(select(Entry.id).where(Entry.ticket_id == ticket.id,
                                                              Entry.author == "operator"))).all()
        return ticket.status, len(notes)


async def test_an_operator_cannot_note_or_merge_a_colleague_s_ticket(console):  # noqa: F811
    client, agent, _user = console
    wang, li, held, free = await _held_by_wang(client, agent)

    note = await li.post(f"{API}/{held}/notes", {"text": "我来插一句"})
    assert note.status == 409 and (await note.json())["error"]["code"] == "claimed_by_other"
    merge_from = await li.post(f"{API}/{held}/merge", {"into": free})
    assert merge_from.status == 409
    merge_into = await li.post(f"{API}/{free}/merge", {"into": held})
    assert merge_into.status == 409 and (await merge_into.json())["error"]["code"] == "claimed_by_other"
    # The pages go through the same actions.
    await li.form(f"/console/tickets/{held}/note", {"text": "页面插一句"})
    await li.form(f"/console/tickets/{free}/merge", {"into": held})
    assert await _state(client.app, held) == ("pending_review", 0)
    assert (await _state(client.app, free))[0] == "pending_review"

    # The holder may do both.
    assert (await wang.post(f"{API}/{held}/notes", {"text": "我在跟进"})).status in (200, 201)
    assert (await wang.post(f"{API}/{free}/merge", {"into": held})).status == 200
    assert await _state(client.app, free) == ("merged", 0)


async def test_a_supervisor_may_step_in_and_it_is_audited(console):  # noqa: F811
    client, agent, _user = console
    wang, li, held, free = await _held_by_wang(client, agent)
    boss = await agent("zhao", role="supervisor")
    assert (await boss.post(f"{API}/{held}/notes", {"text": "班长备注"})).status in (200, 201)
    assert (await boss.post(f"{API}/{free}/merge", {"into": held})).status == 200
    async with client.app[SESSIONS]() as session:
        rows = (await session.execute(select(AuditLog).where(AuditLog.action == "override"))).scalars().all()
    assert {(r.actor, r.target) for r in rows} >= {("zhao", held)}
