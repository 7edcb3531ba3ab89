"""An operator's classification of a ticket, and the training suggestion a correction leaves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from config.directory import Directory
from ticketing.accounts.roles import Actor
from ticketing.db.models.base import utcnow
from ticketing.db.models.nlu import TrainingSuggestion
from ticketing.db.models.tickets import ClassificationChange, Entry, Prediction, Ticket, TicketEvent
from ticketing.errors import ConsoleError
from ticketing.tickets import store
from ticketing.tickets.deadlines import deadline_for
from ticketing.tickets.lifecycle import Status

CLASSIFICATION_FIELDS = ("department", "region", "request_type", "urgent")
NLU_FIELDS = ("department", "region", "request_type")  # what the bot predicts, hence trainable


# --------------------------------------------------------------------------- classification

async def latest_prediction(session: AsyncSession, ticket: Ticket) -> Prediction | None:
    stmt = select(Prediction).where(Prediction.ticket_id == ticket.id).order_by(Prediction.id.desc()).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


async def _classification_owner(session: AsyncSession, ticket: Ticket, prediction: Prediction | None) -> str | None:
    stmt = (select(ClassificationChange.actor).where(ClassificationChange.ticket_id == ticket.id)
            .order_by(ClassificationChange.id.desc()).limit(1))
    owner = (await session.execute(stmt)).scalar_one_or_none()
    if owner:
        return owner
    return "bot" if prediction is not None or ticket.classification == "predicted" else None


def checked_code(directory: Directory, field_name: str, value: Any) -> Any:
    """A classification value an operator chose, checked against the directory (unknown code → 400)."""
    if field_name == "urgent":
        return bool(value)
    if value in (None, ""):
        return None
    codes = {"department": directory.department_codes, "region": directory.region_codes,
             "request_type": directory.request_type_codes}[field_name]
    if value not in codes:
        labels = {"department": "承办部门", "region": "区域", "request_type": "诉求类型"}
        raise ConsoleError(400, f"invalid_{field_name}", f"{labels[field_name]}代码 {value!r} 不存在")
    return value


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def _source_text(session: AsyncSession, ticket: Ticket, prediction: Prediction | None) -> tuple[str, int | None]:
    if prediction is not None and prediction.entry_id:
        entry = await session.get(Entry, prediction.entry_id)
        if entry is not None:
            return entry.text, entry.id
    stmt = (select(Entry).where(Entry.ticket_id == ticket.id, Entry.author == "citizen")
            .order_by(Entry.id).limit(1))
    entry = (await session.execute(stmt)).scalar_one_or_none()
    return (entry.text, entry.id) if entry else (ticket.title or "", None)


async def set_classification(
    session: AsyncSession,
    ticket: Ticket,
    actor: Actor,
    directory: Directory,
    *,
    values: dict[str, Any],
) -> list[ClassificationChange]:
    """Confirm (no change) or correct the ticket's classification.

    Records who changed what (events + classification_changes) and turns each difference
    from the bot's prediction into a training suggestion.  A changed request type or urgency
    moves the deadline unless the national platform fixed it.
    """
    unknown = set(values) - set(CLASSIFICATION_FIELDS)
    if unknown:
        raise ConsoleError(400, "unknown_field", f"不能修改字段：{', '.join(sorted(unknown))}")
    clean = {k: checked_code(directory, k, v) for k, v in values.items()}
    prediction = await latest_prediction(session, ticket)
    owner = await _classification_owner(session, ticket, prediction)
    now = utcnow()
    changes: list[ClassificationChange] = []
    for name in CLASSIFICATION_FIELDS:
        if name not in clean or clean[name] == getattr(ticket, name):
            continue
        before = getattr(ticket, name)
        predicted = getattr(prediction, name, None) if prediction is not None and name != "urgent" else None
        change = ClassificationChange(ticket_id=ticket.id, at=now, actor=actor.username, field=name,
                                      from_value=_str(before), to_value=_str(clean[name]),
                                      predicted_value=_str(predicted), previous_by=owner)
        session.add(change)
        changes.append(change)
        setattr(ticket, name, clean[name])
        await store.record_event(session, ticket, actor=actor.username, action="classify", field=name,
                                 from_value=_str(before), to_value=_str(clean[name]),
                                 detail={"previous_by": owner, "predicted": _str(predicted)})
    if not changes:
        session.add(ClassificationChange(ticket_id=ticket.id, at=now, actor=actor.username, field=None,
                                         previous_by=owner))
        await store.record_event(session, ticket, actor=actor.username, action="confirm_classification",
                                 detail={"previous_by": owner})
    if ticket.classification != "confirmed":
        await store.record_event(session, ticket, actor=actor.username, action="classify",
                                 field="classification", from_value=ticket.classification, to_value="confirmed")
        ticket.classification = "confirmed"
    if any(c.field in ("request_type", "urgent") for c in changes) and ticket.external_deadline is None:
        new_deadline = deadline_for(directory, ticket.request_type, ticket.created_at, urgent=ticket.urgent)
        if new_deadline != ticket.deadline:
            await store.record_event(session, ticket, actor=actor.username, action="update", field="deadline",
                                     from_value=ticket.deadline.isoformat() if ticket.deadline else None,
                                     to_value=new_deadline.isoformat() if new_deadline else None)
            ticket.deadline = new_deadline
    ticket.updated_at = now
    if prediction is not None:
        await suggest_training(session, ticket, actor, prediction, [c.field for c in changes if c.field in NLU_FIELDS])
    return changes


async def suggest_training(session: AsyncSession, ticket: Ticket, actor: Actor, prediction: Prediction,
                           fields: Sequence[str]) -> None:
    """Turn each field where the operator's choice differs from the bot's into a training suggestion
    (one open suggestion per ticket and field; choosing the bot's value again withdraws it)."""
    if not fields:
        return
    text, entry_id = await _source_text(session, ticket, prediction)
    for name in fields:
        chosen = getattr(ticket, name)
        predicted = getattr(prediction, name)
        stmt = select(TrainingSuggestion).where(TrainingSuggestion.ticket_id == ticket.id,
                                                TrainingSuggestion.field == name,
                                                TrainingSuggestion.status == "new")
        open_row = (await session.execute(stmt)).scalar_one_or_none()
        if chosen == predicted:
            # Changed back to what the bot said: the bot was right after all.
            if open_row is not None:
                await session.delete(open_row)
            continue
        if open_row is not None:
            open_row.chosen, open_row.operator, open_row.created_at = chosen, actor.username, utcnow()
            continue
        session.add(TrainingSuggestion(
            ticket_id=ticket.id, entry_id=entry_id, field=name, text=text, predicted=predicted, chosen=chosen,
            confidence=prediction.confidence, model_version=prediction.model_version, operator=actor.username,
            status="new", created_at=utcnow(),
        ))


# --------------------------------------------------------------------------- the NLU's late pre-classification

BACKFILL_ACTION = "nlu_backfill"  # timeline: 机器预分类（补）


def _awaiting_backfill():
    """Tickets a channel message opened without any classification (the NLU was down, loading or
    slow), that no operator has classified and that the NLU has not looked at again yet."""
    created_by_intake = select(TicketEvent.id).where(
        TicketEvent.ticket_id == Ticket.id, TicketEvent.action == "created", TicketEvent.actor == "system")
    backfilled = select(TicketEvent.id).where(TicketEvent.ticket_id == Ticket.id,
                                              TicketEvent.action == BACKFILL_ACTION)
    predicted = select(Prediction.id).where(Prediction.ticket_id == Ticket.id)
    return (Ticket.classification == "unclassified", Ticket.status == Status.PENDING_REVIEW.value,
            created_by_intake.exists(), ~backfilled.exists(), ~predicted.exists())


async def awaiting_backfill(session: AsyncSession, *, limit: int = 100) -> list[tuple[int, str]]:
    """(ticket id, the citizen's first message) of up to `limit` tickets awaiting the NLU, oldest first."""
    citizen = aliased(Entry)
    first_entry = (select(func.min(citizen.id)).where(citizen.ticket_id == Ticket.id, citizen.author == "citizen")
                   .correlate(Ticket).scalar_subquery())
    stmt = (select(Ticket.id, Entry.text).join(Entry, Entry.id == first_entry)
            .where(*_awaiting_backfill()).order_by(Ticket.id).limit(limit))
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]


@dataclass(frozen=True)
class MachineClassification:
    """What the NLU made of a ticket's first message, as the backfill applies it."""

    department: str | None = None
    region: str | None = None
    request_type: str | None = None
    intent: str | None = None
    confidence: float | None = None
    alternatives: tuple[dict[str, Any], ...] = ()
    request_type_alternatives: tuple[dict[str, Any], ...] = ()
    model: str | None = None
    emergency: dict[str, str] | None = None


async def backfill_classification(session: AsyncSession, ticket_id: int, directory: Directory,
                                  result: MachineClassification) -> Ticket | None:
    """Apply the NLU's late pre-classification to a ticket opened without one: the department, region
    and request type it lacks, a prediction (so an operator's correction becomes a training
    suggestion), the deadline of the request type, and the urgent flag of an emergency. Once per
    ticket (an audited `nlu_backfill` event); nothing when an operator classified it meanwhile.
    Returns the ticket when it was changed, None when there was nothing (left) to do."""
    stmt = select(Ticket).where(Ticket.id == ticket_id, *_awaiting_backfill()).with_for_update()
    ticket = (await session.execute(stmt)).scalar_one_or_none()
    if ticket is None:
        return None
    values = {
        "department": result.department if result.department in directory.department_codes else None,
        "region": result.region if result.region in directory.region_codes else None,
        "request_type": result.request_type if result.request_type in directory.request_type_codes else None,
    }
    changes = {name: value for name, value in values.items() if value and getattr(ticket, name) is None}
    urgent = bool(result.emergency) and not ticket.urgent
    if urgent:
        changes["urgent"] = True
    if changes:
        await store.update_fields(session, ticket, actor="bot", **changes)
    if any(changes.get(name) for name in NLU_FIELDS):
        ticket.classification = "predicted"
        entry_id = (await session.execute(
            select(func.min(Entry.id)).where(Entry.ticket_id == ticket.id, Entry.author == "citizen"))).scalar()
        entry = await session.get(Entry, entry_id) if entry_id else None
        await store.add_prediction(session, ticket, entry=entry, department=values["department"],
                                   region=values["region"], request_type=values["request_type"],
                                   intent=result.intent, confidence=result.confidence,
                                   alternatives=list(result.alternatives), model_version=result.model,
                                   request_type_alternatives=list(result.request_type_alternatives))
    if ("request_type" in changes or urgent) and ticket.external_deadline is None:
        deadline = deadline_for(directory, ticket.request_type, ticket.created_at, urgent=ticket.urgent)
        if deadline != ticket.deadline:
            await store.update_fields(session, ticket, actor="bot", deadline=deadline)
    await store.record_event(session, ticket, actor="bot", action=BACKFILL_ACTION, to_value=result.model,
                             detail={**{k: v for k, v in changes.items() if k in NLU_FIELDS},
                                     "intent": result.intent, "emergency": result.emergency})
    return ticket
