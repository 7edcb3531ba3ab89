"""Units' progress notes, assisting opinions and answers."""

from __future__ import annotations

import pytest

from tests.ticketing.factories import HEALTH_CLERK, RUZHOU_CLERK
from ticketing.db.models.tickets import Ticket
from ticketing.errors import ConsoleError
from ticketing.workflow import assignments, reports


async def test_answer_needs_a_signature_and_substance_and_moves_to_review(sessions, with_unit):
    ticket_id = await with_unit(signed=False)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        with pytest.raises(ConsoleError) as exc:
            await reports.submit_answer(session, ticket, HEALTH_CLERK, "经核实，已安排维修人员处理。")
        assert exc.value.code == "sign_first"
        await assignments.sign(session, ticket, HEALTH_CLERK)
        with pytest.raises(ConsoleError) as exc:
            await reports.submit_answer(session, ticket, HEALTH_CLERK, "已处理")
        assert exc.value.code == "text_required"
        report = await reports.submit_answer(session, ticket, HEALTH_CLERK, "经核实，已安排维修人员于12月3日处理完毕。")
        assert ticket.status == "answer_review" and report.review_state == "pending"
        assert (await reports.pending_answer(session, ticket)).id == report.id


async def test_an_assisting_unit_gives_an_opinion_not_the_answer(sessions, with_unit):
    ticket_id = await with_unit(assists=("ruzhou",))
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        await assignments.sign(session, ticket, RUZHOU_CLERK)
        opinion = await reports.add_progress(session, ticket, RUZHOU_CLERK, "汝州市已配合现场核查。")
        assert opinion.kind == "opinion" and ticket.status == "handling"
        with pytest.raises(ConsoleError) as exc:
            await reports.submit_answer(session, ticket, RUZHOU_CLERK, "经核实，已安排维修人员处理完毕。")
        assert exc.value.status == 403
        note = await reports.add_progress(session, ticket, HEALTH_CLERK, "已联系施工单位")
        assert note.kind == "progress"
        assert [r.unit for r in await reports.reports_of(session, ticket, unit="health")] == ["health"]
