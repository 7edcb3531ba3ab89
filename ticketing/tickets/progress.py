"""What a citizen may see of a ticket (办件查询): status and public replies, behind the phone's last digits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.models.tickets import Entry, Ticket
from ticketing.tickets import handling
from ticketing.tickets.lifecycle import Status, status_label
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


def _timeline(ticket: Ticket, after: datetime | None = None) -> list[dict[str, Any]]:
    return [
        {"at": ev.at.isoformat(), "status": ev.to_value, "label": status_label(ev.to_value), "action": ev.action}
        for ev in ticket.events
        if ev.public and ev.field == "status" and (after is None or ev.at > after)
    ]


def _reply(entry: Entry) -> dict[str, Any]:
    return {"at": entry.created_at.isoformat(), "author": entry.author, "text": entry.text}


def _replies(ticket: Ticket) -> list[dict[str, Any]]:
    return [_reply(e) for e in ticket.entries if e.public and e.author in ("operator", "bot")]


def _merged_at(ticket: Ticket) -> datetime | None:
    return next((ev.at for ev in reversed(ticket.events) if ev.action == "merged_into"), None)


async def public_progress(session: AsyncSession, number: str, phone_proof: str) -> dict[str, Any] | None:
    """What a citizen may see of a ticket: None unless the number and the phone (its last four
    digits or all of it) both match.  A merged duplicate shows the progress of the ticket it is
    handled in, behind its own citizen's phone."""
    ticket = await ticket_by_number(session, number, full=True)
    if ticket is None or not phone_matches(ticket, phone_proof):
        return None
    timeline, replies = _timeline(ticket), _replies(ticket)
    shown, merged_into = ticket, None
    if ticket.status == Status.MERGED:
        main = await handling.main_ticket_of(session, ticket)
        main = await ticket_by_number(session, main.number, full=True) if main.id != ticket.id else None
        if main is not None:
            shown, merged_into = main, main.number
            # The main ticket's steps since the merge continue this ticket's own story.
            timeline += _timeline(main, after=_merged_at(ticket))
            # Only the main ticket's official answers: its bot messages talk to another citizen.
            # Answers already copied to this duplicate appear once, as the copy.
            copied = {(e.meta or {}).get("copy_of") for e in ticket.entries}
            replies += [_reply(e) for e in main.entries
                        if e.public and e.author == "operator" and e.id not in copied]
            replies.sort(key=lambda r: r["at"])
    return {
        "ticket_no": ticket.number,
        "status": shown.status,
        "status_label": status_label(shown.status),
        "merged_into": merged_into,
        "created_at": ticket.created_at.isoformat(),
        "deadline": shown.deadline.isoformat() if shown.deadline else None,
        "timeline": timeline,
        "replies": replies,
    }

