"""The finder over the ticket store, on both backends: which tickets are candidates, the cache,
and merging a cluster in one transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.ticketing.factories import LI, WANG, handoff_ticket
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Ticket
from ticketing.duplicates.finder import DuplicateFinder
from ticketing.duplicates.merging import merge_into_main
from ticketing.errors import ConsoleError
from ticketing.tickets import claims, store

LIGHTS = ["建设路和中兴路交叉口的红绿灯坏了，一直不亮", "反映新华区建设路与中兴路交叉口信号灯故障，全天不亮",
          "来电人反映：新华区建设路与中兴路路口红绿灯不亮"]


async def numbers(sessions, ids: list[int]) -> list[str]:
    async with sessions() as session:
        rows = await session.execute(select(Ticket.id, Ticket.number).where(Ticket.id.in_(ids)))
        by_id = dict(rows.all())
    return [by_id[i] for i in ids]


async def test_only_open_tickets_of_the_window_are_candidates(sessions):
    ids = [await handoff_ticket(sessions, text=text, department="transport") for text in LIGHTS]
    old = await handoff_ticket(sessions, text=LIGHTS[0], department="transport", at=utcnow() - timedelta(days=40))
    closed = await handoff_ticket(sessions, text=LIGHTS[1], department="transport")
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, closed)
        ticket.status = "closed"
    finder = DuplicateFinder(days=30)
    async with sessions() as session:
        [cluster] = await finder.clusters(session)
    members = {cluster.main.ticket_id, *(s.candidate.ticket_id for s in cluster.others)}
    assert members == set(ids) and old not in members and closed not in members
    assert cluster.main.text == LIGHTS[0]  # the first citizen message is what is compared


async def test_the_index_is_reused_until_it_is_stale_or_invalidated(sessions):
    now = [0.0]
    finder = DuplicateFinder(days=30, refresh_seconds=30, clock=lambda: now[0])
    await handoff_ticket(sessions, text=LIGHTS[0], department="transport")
    async with sessions() as session:
        assert await finder.clusters(session) == []
    await handoff_ticket(sessions, text=LIGHTS[1], department="transport")
    async with sessions() as session:
        assert await finder.clusters(session) == []  # cached
        now[0] = 31.0
        assert len(await finder.clusters(session)) == 1  # stale: rebuilt
    await handoff_ticket(sessions, text=LIGHTS[2], department="transport")
    finder.invalidate()
    async with sessions() as session:
        assert (await finder.clusters(session))[0].size == 3


async def test_merge_into_main_folds_all_or_nothing(sessions):
    ids = [await handoff_ticket(sessions, text=text, department="transport") for text in LIGHTS]
    main, *others = await numbers(sessions, ids)
    async with sessions() as session, session.begin():
        await claims.claim(session, await claims.get_ticket(session, others[1]), WANG)
    with pytest.raises(ConsoleError):
        async with sessions() as session, session.begin():
            await merge_into_main(session, main, others, LI)
    async with sessions() as session:
        assert [(await store.ticket_by_number(session, n)).status for n in others] == ["pending_review"] * 2
    async with sessions() as session, session.begin():
        target, merged = await merge_into_main(session, main, others, WANG)
    assert target.number == main and [t.number for t in merged] == others
    async with sessions() as session:
        assert [(await store.ticket_by_number(session, n)).status for n in others] == ["merged"] * 2
    with pytest.raises(ConsoleError):
        async with sessions() as session, session.begin():
            await merge_into_main(session, main, [main], WANG)
