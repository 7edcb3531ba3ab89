from datetime import datetime, timezone

import pytest
from sqlalchemy.exc import IntegrityError

from ticketing.errors import IllegalTransition
from ticketing.tickets import progress, store
from ticketing.tickets.lifecycle import TRANSITIONS, Action, Status, next_status
from ticketing.tickets.store import ContactInfo


def test_every_documented_path_exists():
    assert next_status("pending_review", "answer") is Status.ANSWERED
    assert next_status("pending_review", "dispatch") is Status.DISPATCHED
    # Once dispatched, the unit answers and the platform reviews it: no operator shortcut.
    assert next_status("dispatched", "answer") is None
    assert next_status("dispatched", "sign") is Status.HANDLING
    assert next_status("handling", "submit") is Status.ANSWER_REVIEW
    assert next_status("answer_review", "approve") is Status.ANSWERED
    assert next_status("answer_review", "reject") is Status.HANDLING
    assert next_status("handling", "return") is Status.RETURNED
    assert next_status("returned", "dispatch") is Status.DISPATCHED
    assert next_status("answered", "redo") is Status.DISPATCHED
    assert next_status("handling", "rule") is Status.CLOSED
    assert next_status("answered", "close") is Status.CLOSED
    assert next_status("closed", "reopen") is Status.PENDING_REVIEW
    assert next_status("bot_answered", "close") is Status.CLOSED
    assert next_status("closed", "answer") is None
    assert next_status("nonsense", "answer") is None
    # No action leads out of merged: a merged ticket lives on in the one it joined.
    assert not [k for k in TRANSITIONS if k[0] is Status.MERGED]


async def _ticket(session):
    at = datetime(2026, 11, 27, 3, tzinfo=timezone.utc)
    conv = await store.lock_conversation(session, "web", "session-lifecycle-0001", at)
    return await store.create_ticket(session, conversation=conv, channel="web", actor="system", at=at,
                                        contact=ContactInfo(phone="13837512345"))


async def test_transitions_append_to_the_trail_and_illegal_ones_raise(sessions):
    async with sessions() as session, session.begin():
        ticket = await _ticket(session)
        await store.transition(session, ticket, Action.DISPATCH, actor="op1")
        await store.transition(session, ticket, Action.SIGN, actor="unit1")
        await store.transition(session, ticket, Action.SUBMIT, actor="unit1")
        await store.transition(session, ticket, Action.APPROVE, actor="op1")
        await store.transition(session, ticket, Action.CLOSE, actor="op1")
        assert ticket.closed_at is not None
        with pytest.raises(IllegalTransition) as exc:
            await store.transition(session, ticket, Action.DISPATCH, actor="op2")
        assert "已办结" in str(exc.value)
        await store.transition(session, ticket, Action.REOPEN, actor="citizen")
        assert ticket.closed_at is None and ticket.status == "pending_review"
        number = ticket.number
    async with sessions() as session:
        stored = await store.ticket_by_number(session, number, full=True)
        trail = [(e.actor, e.action, e.from_value, e.to_value) for e in stored.events]
    assert trail == [
        ("system", "created", None, "pending_review"),
        ("op1", "dispatch", "pending_review", "dispatched"),
        ("unit1", "sign", "dispatched", "handling"),
        ("unit1", "submit", "handling", "answer_review"),
        ("op1", "approve", "answer_review", "answered"),
        ("op1", "close", "answered", "closed"),
        ("citizen", "reopen", "closed", "pending_review"),
    ]


async def test_field_updates_record_from_and_to(sessions):
    async with sessions() as session, session.begin():
        ticket = await _ticket(session)
        events = await store.update_fields(session, ticket, actor="op1", department="transport", region="ruzhou")
        assert {(e.field, e.from_value, e.to_value) for e in events} == {
            ("department", None, "transport"), ("region", None, "ruzhou")}
        assert await store.update_fields(session, ticket, actor="op1", department="transport") == []
        with pytest.raises(ValueError):
            await store.update_fields(session, ticket, actor="op1", number="X")


async def test_the_same_channel_message_cannot_be_stored_twice(sessions):
    at = datetime(2026, 11, 27, 3, tzinfo=timezone.utc)
    async with sessions() as session, session.begin():
        conv = await store.lock_conversation(session, "wechat", "openid-1", at)
        await store.add_entry(session, conversation=conv, ticket=None, author="citizen", channel="wechat",
                                 text="你好", channel_message_id="6054768590064713728")
    with pytest.raises(IntegrityError):
        async with sessions() as session, session.begin():
            conv = await store.lock_conversation(session, "wechat", "openid-1", at)
            await store.add_entry(session, conversation=conv, ticket=None, author="citizen", channel="wechat",
                                     text="你好", channel_message_id="6054768590064713728")


async def test_progress_needs_number_and_phone_digits(sessions):
    async with sessions() as session, session.begin():
        ticket = await _ticket(session)
        number = ticket.number
    async with sessions() as session:
        assert (await progress.public_progress(session, number, "2345"))["status"] == "pending_review"
        assert await progress.public_progress(session, number, "0000") is None
        assert await progress.public_progress(session, "PDS2099010100001", "2345") is None
