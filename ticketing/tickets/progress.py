"""What a citizen may see of a ticket (办件查询): status and public replies, behind the phone's last digits."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.models.tickets import Ticket
from ticketing.tickets.lifecycle import status_label
from ticketing.tickets.store import ticket_by_number


def _digits(phone: str | None) -> str:
    return "".join(ch for ch in (phone or "") if ch.isdigit())


def phone_matches(ticket: Ticket, proof: str) -> bool:
    """``proof`` is the phone's last four digits, or the whole number (once four digits are not
    enough for this ticket, see ``gateway.web.citizen.progress_api``)."""
    digits = _digits(ticket.citizen_phone)
    given = _digits(proof)
    if len(given) == 4:
        return len(digits) >= 4 and digits[-4:] == given
    if len(given) == 13 and given.startswith("86"):
        given = given[2:]
    return len(digits) >= 7 and digits == given


async def public_progress(session: AsyncSession, number: str, phone_proof: str) -> dict[str, Any] | None:
    """What a citizen may see of a ticket: None unless the number and the phone (its last four
    digits or all of it) both match."""
    ticket = await ticket_by_number(session, number, full=True)
    if ticket is None or not phone_matches(ticket, phone_proof):
        return None
    timeline = [
        {"at": ev.at.isoformat(), "status": ev.to_value, "label": status_label(ev.to_value), "action": ev.action}
        for ev in ticket.events
        if ev.public and ev.field == "status"
    ]
    replies = [
        {"at": e.created_at.isoformat(), "author": e.author, "text": e.text}
        for e in ticket.entries
        if e.public and e.author in ("operator", "bot")
    ]
    return {
        "ticket_no": ticket.number,
        "status": ticket.status,
        "status_label": status_label(ticket.status),
        "created_at": ticket.created_at.isoformat(),
        "deadline": ticket.deadline.isoformat() if ticket.deadline else None,
        "timeline": timeline,
        "replies": replies,
    }
