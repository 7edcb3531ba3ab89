"""What a citizen may see of a ticket (办件查询): status and public replies, behind the phone's last digits."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.models.tickets import Ticket
from ticketing.tickets.lifecycle import status_label
from ticketing.tickets.store import ticket_by_number


def phone_matches(ticket: Ticket, last4: str) -> bool:
    digits = "".join(ch for ch in (ticket.citizen_phone or "") if ch.isdigit())
    return len(digits) >= 4 and digits[-4:] == last4


async def public_progress(session: AsyncSession, number: str, phone_last4: str) -> dict[str, Any] | None:
    """What a citizen may see of a ticket: None unless the number and phone digits both match."""
    ticket = await ticket_by_number(session, number, full=True)
    if ticket is None or not phone_matches(ticket, phone_last4):
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
