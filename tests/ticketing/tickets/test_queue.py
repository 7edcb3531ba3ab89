from datetime import timedelta

from tests.ticketing.factories import handoff_ticket
from ticketing.db.models.base import utcnow
from ticketing.tickets import queue
from ticketing.tickets.queue import QueueFilter


async def test_queue_order_and_search(sessions):
    now = utcnow()
    oldest = await handoff_ticket(sessions, at=now - timedelta(hours=3))
    urgent_older = await handoff_ticket(sessions, urgent=True, at=now - timedelta(hours=2))
    urgent_newer = await handoff_ticket(sessions, urgent=True, at=now - timedelta(hours=1))
    gas = await handoff_ticket(sessions, at=now - timedelta(minutes=5), text="燃气费怎么交")
    async with sessions() as session:
        page = await queue.queue(session, QueueFilter())
        assert [t.id for t in page.tickets] == [urgent_newer, urgent_older, oldest, gas] and page.total == 4
        page = await queue.queue(session, QueueFilter(), limit=1, offset=2)
        assert [t.id for t in page.tickets] == [oldest]
        assert [t.id for t in (await queue.queue(session, QueueFilter(q="燃气"))).tickets] == [gas]
        assert [t.id for t in (await queue.queue(session, QueueFilter(urgent=False))).tickets] == [oldest, gas]
        assert await queue.queue_counts(session) == {"pending": 4, "urgent": 2, "unclaimed": 4}


async def test_like_wildcards_in_a_search_are_literal(sessions):
    await handoff_ticket(sessions, text="百分之百满意")
    async with sessions() as session:
        assert (await queue.queue(session, QueueFilter(q="%"))).tickets == []
        assert (await queue.queue(session, QueueFilter(q="_"))).tickets == []
