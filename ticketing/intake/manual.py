"""Manual intake: an operator records a phone call or a letter as a ticket."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from config.directory import Directory
from ticketing.accounts.roles import Actor
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import ClassificationChange, Ticket
from ticketing.errors import ConsoleError
from ticketing.inputs import clean_text
from ticketing.tickets import store
from ticketing.tickets.classification import NLU_FIELDS, checked_code, suggest_training
from ticketing.tickets.deadlines import deadline_for
from ticketing.tickets.store import AttachmentInfo, ContactInfo

MANUAL_CHANNELS = ("phone", "letter")


# --------------------------------------------------------------------------- manual intake

@dataclass(frozen=True)
class ManualIntake:
    channel: str  # phone | letter
    text: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    title: str | None = None
    department: str | None = None
    region: str | None = None
    request_type: str | None = None
    urgent: bool = False
    attachments: tuple[AttachmentInfo, ...] = ()
    # What the NLU said while the operator typed (kept as the bot's prediction).
    prediction: dict[str, Any] | None = None


async def manual_intake(session: AsyncSession, actor: Actor, directory: Directory, data: ManualIntake,
                        *, now: datetime | None = None) -> Ticket:
    """A ticket from a phone call or a letter, entered and owned by the operator."""
    now = now or utcnow()
    if data.channel not in MANUAL_CHANNELS:
        raise ConsoleError(400, "invalid_channel", "人工录入的渠道只能是电话（phone）或来信（letter）")
    text = clean_text(data.text, "诉求内容")
    values = {k: checked_code(directory, k, getattr(data, k)) for k in ("department", "region", "request_type")}
    # Same caller on the same channel → same conversation, like every other channel.
    sender = (f"{data.channel}:{data.phone}" if data.phone
              else f"{data.channel}:anon:{now.timestamp():.6f}:{actor.username}")
    conv = await store.lock_conversation(session, data.channel, sender, now)
    classified = any(values.values())
    ticket = await store.create_ticket(
        session, conversation=conv, channel=data.channel, actor=actor.username,
        title=(data.title or text.splitlines()[0])[:40],
        contact=ContactInfo(name=data.name, phone=data.phone, email=data.email),
        request_type=values["request_type"], department=values["department"], region=values["region"],
        urgent=bool(data.urgent), classification="confirmed" if classified else "unclassified",
        deadline=deadline_for(directory, values["request_type"], now, urgent=bool(data.urgent)), at=now,
    )
    ticket.assignee = actor.username
    await store.record_event(session, ticket, actor=actor.username, action="claim", field="assignee",
                             to_value=actor.username)
    entry = await store.add_entry(
        session, conversation=conv, ticket=ticket, author="citizen", channel=data.channel, text=text,
        subject=data.title, meta={"entered_by": actor.username}, attachments=data.attachments, at=now,
    )
    pred = data.prediction or {}
    prediction = None
    if any(pred.get(k) for k in NLU_FIELDS):
        intent = pred.get("intent") or {}
        prediction = await store.add_prediction(
            session, ticket, entry=entry,
            department=pred.get("department") if pred.get("department") in directory.department_codes else None,
            region=pred.get("region") if pred.get("region") in directory.region_codes else None,
            request_type=pred.get("request_type") if pred.get("request_type") in directory.request_type_codes else None,
            intent=intent.get("name") if isinstance(intent, dict) else None,
            confidence=intent.get("confidence") if isinstance(intent, dict) else None,
            alternatives=[a for a in pred.get("department_alternatives") or [] if isinstance(a, dict)][:3],
            model_version=pred.get("model"),
            request_type_alternatives=_known_ranking(pred.get("request_type_alternatives"),
                                                     directory.request_type_codes),
        )
    if classified:
        session.add(ClassificationChange(ticket_id=ticket.id, at=now, actor=actor.username, field=None,
                                         previous_by="bot" if prediction else None))
        if prediction is not None:
            await session.flush()
            await suggest_training(session, ticket, actor, prediction,
                                   [k for k in NLU_FIELDS if values[k] != getattr(prediction, k)])
    return ticket


def _known_ranking(items: Any, codes: Collection[str]) -> list[dict[str, Any]]:
    """The entries of a ranking the browser sent back ({"code", "confidence"}) that name a known code with a
    confidence in [0, 1], at most three: the page posts what the parse gave, but it is the client's JSON."""
    out: list[dict[str, Any]] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or item.get("code") not in codes:
            continue
        confidence = item.get("confidence")
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
            continue
        out.append({"code": item["code"], "confidence": float(confidence)})
    return out[:3]
