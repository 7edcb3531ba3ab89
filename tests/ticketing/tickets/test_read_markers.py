"""The queue's 未读 marker and "我的工单" with follow-ups after the dispatch, on both backends."""

from __future__ import annotations

from datetime import timedelta

from tests.ticketing.factories import DIRECTORY, HEALTH_CLERK, LI, WANG, handoff_ticket
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Ticket
from ticketing.tickets import queue, read_markers, store
from ticketing.tickets.queue import QueueFilter
from ticketing.workflow import assignments


async def _say(sessions, ticket_id: int, text: str, *, author: str = "citizen", at=None) -> None:
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        conv = await store.conversation_of(session, ticket)
        await store.add_entry(session, conversation=conv, ticket=ticket, author=author, channel="web", text=text,
                              at=at or utcnow())


async def _open_page(sessions, username: str, ticket_id: int) -> None:
    """What opening the console's ticket page does."""
    async with sessions() as session, session.begin():
        ticket = await store.ticket_by_number(session, (await session.get(Ticket, ticket_id)).number, full=True)
        await read_markers.mark_read(session, username, ticket.id, read_markers.newest_seen(ticket))


async def _unread(sessions, username: str, *ids: int) -> set[int]:
    async with sessions() as session:
        return await read_markers.unread(session, username, list(ids))


async def test_citizen_messages_and_unit_steps_make_a_ticket_unread_for_each_user(sessions):
    first = await handoff_ticket(sessions, at=utcnow() - timedelta(minutes=5))
    other = await handoff_ticket(sessions, at=utcnow() - timedelta(minutes=4))
    assert await _unread(sessions, "li", first, other) == {first, other}  # never opened
    await _open_page(sessions, "li", first)
    assert await _unread(sessions, "li", first, other) == {other}
    assert await _unread(sessions, "wang", first, other) == {first, other}  # per user

    await _say(sessions, first, "已回复", author="operator")
    assert await _unread(sessions, "li", first) == set()  # a colleague's reply is not news to act on
    await _say(sessions, first, "补充一下：在建设路口")
    assert await _unread(sessions, "li", first) == {first}
    await _open_page(sessions, "li", first)
    assert await _unread(sessions, "li", first) == set()

    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, first)
        await assignments.dispatch(session, ticket, LI, DIRECTORY, target="health")
    assert await _unread(sessions, "li", first) == set()  # the operator's own dispatch
    async with sessions() as session, session.begin():
        await assignments.sign(session, await session.get(Ticket, first), HEALTH_CLERK)
    assert await _unread(sessions, "li", first) == {first}  # the unit signed it


async def test_a_marker_never_moves_back(sessions):
    ticket_id = await handoff_ticket(sessions)
    later = utcnow() + timedelta(minutes=1)
    async with sessions() as session, session.begin():
        await read_markers.mark_read(session, "li", ticket_id, later)
        await read_markers.mark_read(session, "li", ticket_id, later - timedelta(hours=1))
    async with sessions() as session:
        assert (await read_markers.read_times(session, "li", [ticket_id]))[ticket_id] == later


async def _mine(sessions, actor) -> list[int]:
    async with sessions() as session:
        page = await queue.search(session, QueueFilter(assignee=actor.username), actor)
        return [t.id for t in page.tickets]


async def test_my_tickets_list_dispatched_ones_the_citizen_wrote_to_again_until_read(sessions):
    waiting = await handoff_ticket(sessions, at=utcnow() - timedelta(hours=2))
    quiet = await handoff_ticket(sessions, at=utcnow() - timedelta(hours=2))
    followed = await handoff_ticket(sessions, at=utcnow() - timedelta(hours=2))
    colleagues = await handoff_ticket(sessions, at=utcnow() - timedelta(hours=2))
    async with sessions() as session, session.begin():
        for ticket_id in (waiting, quiet, followed, colleagues):
            ticket = await session.get(Ticket, ticket_id)
            ticket.assignee = "wang" if ticket_id == colleagues else "li"
        for ticket_id in (quiet, followed, colleagues):
            ticket = await session.get(Ticket, ticket_id)
            await assignments.dispatch(session, ticket, LI, DIRECTORY, target="health",
                                       now=utcnow() - timedelta(hours=1))
    await _say(sessions, followed, "单位还没人联系我", at=utcnow())
    await _say(sessions, colleagues, "单位还没人联系我", at=utcnow())
    # Each ticket is measured from its own dispatch, not from anyone else's later one.
    early = await handoff_ticket(sessions, at=utcnow() - timedelta(hours=5))
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, early)
        ticket.assignee = "li"
        await assignments.dispatch(session, ticket, LI, DIRECTORY, target="health", now=utcnow() - timedelta(hours=4))
    await _say(sessions, early, "怎么还没处理", at=utcnow() - timedelta(hours=3))

    assert set(await _mine(sessions, LI)) == {waiting, followed, early}
    await _open_page(sessions, "li", early)
    assert await _unread(sessions, "li", followed) == {followed}
    assert await _mine(sessions, WANG) == [colleagues]
    await _open_page(sessions, "li", followed)  # read (and passed on): it leaves the list
    assert await _mine(sessions, LI) == [waiting]
    # Another operator's filter on li's tickets is the plain assignee filter.
    async with sessions() as session:
        page = await queue.search(session, QueueFilter(assignee="li"), WANG)
        assert [t.id for t in page.tickets] == [waiting]
