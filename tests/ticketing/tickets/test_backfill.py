"""The NLU's late pre-classification of tickets the intake opened while it was away."""

from __future__ import annotations

from sqlalchemy import select

from tests.ticketing.factories import DIRECTORY, LI, handoff_ticket
from tests.ticketing.intake.test_rules import Message
from ticketing.db.models.tickets import Prediction, Ticket, TicketEvent
from ticketing.intake.contract import Classification
from ticketing.intake.rules import IntakeRules
from ticketing.tickets import classification
from ticketing.tickets.classification import BACKFILL_ACTION, MachineClassification, backfill_classification
from ticketing.tickets.deadlines import deadline_for

STREET_LIGHT = MachineClassification(department="urban_management", region="weidong", request_type="complaint",
                                     intent="dept_urban_management", confidence=0.91,
                                     alternatives=({"code": "transport", "confidence": 0.03},), model="nlu-abc")
FIRE = MachineClassification(request_type="help", intent="emergency_fire", confidence=0.97, model="nlu-abc",
                             emergency={"number": "119", "kind": "fire"})


async def _unclassified(sessions, text: str) -> int:
    """A ticket as the intake opens it when the NLU does not answer (no classification at all)."""
    async with sessions() as session, session.begin():
        outcome = await IntakeRules(sessions, DIRECTORY).take_in(session, Message(text), Classification())
    async with sessions() as session:
        ticket = (await session.execute(select(Ticket).where(Ticket.number == outcome.ticket_no))).scalar_one()
        assert ticket.classification == "unclassified"
        return ticket.id


async def _backfill(sessions, ticket_id: int, result: MachineClassification) -> Ticket | None:
    async with sessions() as session, session.begin():
        return await backfill_classification(session, ticket_id, DIRECTORY, result)


async def test_a_ticket_opened_without_the_nlu_is_classified_once(sessions):
    ticket_id = await _unclassified(sessions, "卫东区建设路的路灯坏了一个星期了")
    async with sessions() as session:
        assert [t for t, _ in await classification.awaiting_backfill(session)] == [ticket_id]

    assert await _backfill(sessions, ticket_id, STREET_LIGHT) is not None
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert (ticket.department, ticket.region, ticket.request_type, ticket.classification) == (
            "urban_management", "weidong", "complaint", "predicted")
        assert ticket.deadline == deadline_for(DIRECTORY, "complaint", ticket.created_at)
        prediction = (await session.execute(select(Prediction).where(Prediction.ticket_id == ticket_id))).scalar_one()
        assert (prediction.department, prediction.model_version, prediction.entry_id is not None) == (
            "urban_management", "nlu-abc", True)
        events = (await session.execute(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket_id, TicketEvent.action == BACKFILL_ACTION))).scalars().all()
        assert [(e.actor, e.to_value, e.detail["department"]) for e in events] == [("bot", "nlu-abc", "urban_management")]
        assert await classification.awaiting_backfill(session) == []

    # Once: a second pass (another worker, a restart) changes nothing.
    assert await _backfill(sessions, ticket_id, FIRE) is None
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert not ticket.urgent and ticket.request_type == "complaint"
        assert len((await session.execute(select(Prediction).where(Prediction.ticket_id == ticket_id))).all()) == 1


async def test_an_emergency_found_late_is_flagged_urgent(sessions):
    ticket_id = await _unclassified(sessions, "我家楼下着火了")
    assert await _backfill(sessions, ticket_id, FIRE) is not None
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket.urgent and ticket.request_type == "help"
        assert ticket.deadline == deadline_for(DIRECTORY, "help", ticket.created_at, urgent=True)
        fields = set((await session.execute(select(TicketEvent.field).where(
            TicketEvent.ticket_id == ticket_id, TicketEvent.action == "update"))).scalars())
        assert {"urgent", "request_type"} <= fields


async def test_operator_classified_and_bot_classified_tickets_are_left_alone(sessions):
    by_operator = await _unclassified(sessions, "小区噪音扰民")
    async with sessions() as session, session.begin():
        await classification.set_classification(session, await session.get(Ticket, by_operator), LI, DIRECTORY,
                                                values={"department": "ecology_environment"})
    by_bot = await handoff_ticket(sessions)  # classified at intake
    async with sessions() as session:
        assert await classification.awaiting_backfill(session) == []
    assert await _backfill(sessions, by_operator, STREET_LIGHT) is None
    assert await _backfill(sessions, by_bot, FIRE) is None
    async with sessions() as session:
        assert (await session.get(Ticket, by_operator)).department == "ecology_environment"
        assert not (await session.get(Ticket, by_bot)).urgent


async def test_an_answer_without_a_department_still_counts_as_looked_at(sessions):
    ticket_id = await _unclassified(sessions, "你好")
    assert await _backfill(sessions, ticket_id, MachineClassification(intent="greet", model="nlu-abc")) is not None
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket.classification == "unclassified"  # nothing to predict: the operators classify it
        assert await classification.awaiting_backfill(session) == []
