import pytest
from sqlalchemy import select

from tests.ticketing.factories import DIRECTORY, LI
from ticketing.db.models.tickets import Ticket
from ticketing.errors import ConsoleError
from ticketing.intake import manual
from ticketing.intake.manual import ManualIntake
from ticketing.tickets.deadlines import deadline_for


async def test_manual_intake_owns_and_classifies(sessions):
    async with sessions() as session, session.begin():
        ticket = await manual.manual_intake(session, LI, DIRECTORY, ManualIntake(
            channel="letter", text="来信：舞钢市某路段积水", phone="13700001111", region="wugang",
            request_type="report"))
        assert ticket.channel == "letter" and ticket.assignee == "li" and ticket.classification == "confirmed"
        assert ticket.deadline == deadline_for(DIRECTORY, "report", ticket.created_at)
    with pytest.raises(ConsoleError):
        async with sessions() as session, session.begin():
            await manual.manual_intake(session, LI, DIRECTORY, ManualIntake(channel="letter", text="x",
                                                                          region="atlantis"))
    async with sessions() as session:
        rows = (await session.execute(select(Ticket))).scalars().all()
    assert len(rows) == 1
