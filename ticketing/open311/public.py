"""Our departments as Open311 services and our tickets as public service requests.

What a public response may say about a ticket: its number, status, service (department),
region, responsible unit and times, and — for a request an app filed through Open311 — the
description and place the app sent, with every phone-like number and e-mail address in it
removed.  A ticket from any other channel is described by its service and region only: its
citizen wrote to the hotline, not to the public.  Names, phones, e-mails, openids and the
conversation never leave the ticket store through here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.directory import Directory
from config.local_time import LOCAL_TZ
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Entry, Ticket
from ticketing.tickets.lifecycle import OPEN_STATUSES, Status, status_label

CHANNEL = "open311"
CLOSED_STATUSES = frozenset({Status.CLOSED, Status.BOT_ANSWERED, Status.MERGED})
MAX_RESULTS = 1000  # the spec's own cap on one list
DEFAULT_RESULTS = 200
REDACTED = "[已隐去]"
DEFAULT_WINDOW = timedelta(days=90)

# Seven or more digits in a row (a mobile written with spaces or dashes, a landline, an ID card
# number ending in X) and anything shaped like an e-mail address.
_NUMBER = re.compile(r"(?<![A-Za-z0-9])(?:\+?86[-\s]?)?\d(?:[-\s]?\d){6,}[Xx]?(?![A-Za-z0-9])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+")


def redact(text: str) -> str:
    return _NUMBER.sub(REDACTED, _EMAIL.sub(REDACTED, text))


@dataclass(frozen=True)
class Service:
    service_code: str
    service_name: str
    description: str
    group: str
    metadata: bool = False
    type: str = "realtime"
    keywords: str = ""


def services(directory: Directory) -> list[Service]:
    """One service per department (the unit a request goes to), in the directory's order."""
    found = []
    for department in directory.departments:
        group = "水电气暖" if department.code == "utilities" else "市直部门"
        found.append(Service(department.code, department.name, f"由{department.name}办理的诉求", group))
    return found


@dataclass(frozen=True)
class RequestQuery:
    numbers: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] = ()  # "open", "closed"
    limit: int = DEFAULT_RESULTS


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(LOCAL_TZ).isoformat(timespec="seconds") if value else None


def public_status(status: str) -> str:
    return "closed" if status in CLOSED_STATUSES else "open"


def _statuses_of(public: Sequence[str]) -> list[str]:
    chosen: set[str] = set()
    if "open" in public:
        chosen |= {s.value for s in OPEN_STATUSES}
    if "closed" in public:
        chosen |= {s.value for s in CLOSED_STATUSES}
    return sorted(chosen)


async def _first_meta(session: AsyncSession, ticket_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The channel facts of each ticket's first citizen message (an Open311 request's place)."""
    if not ticket_ids:
        return {}
    first = (select(func.min(Entry.id)).where(Entry.ticket_id.in_(ticket_ids), Entry.author == "citizen")
             .group_by(Entry.ticket_id))
    rows = await session.execute(select(Entry.ticket_id, Entry.meta).where(Entry.id.in_(first)))
    return {ticket_id: meta or {} for ticket_id, meta in rows.all()}


def service_request(ticket: Ticket, meta: dict[str, Any], directory: Directory) -> dict[str, Any]:
    """The GeoReport v2 fields of one ticket, in the spec's order."""
    open311 = meta.get("open311") if ticket.channel == CHANNEL else None
    open311 = open311 if isinstance(open311, dict) else {}
    department = ticket.department if ticket.department in directory.department_codes else None
    service_name = directory.department(department).name if department else None
    region = directory.region(ticket.region).name if ticket.region in directory.region_codes else None
    unit = directory.unit(ticket.unit) if ticket.unit else None
    if open311.get("description"):
        description = redact(str(open311["description"]))
    else:
        kind = next((t.name for t in directory.request_types if t.code == ticket.request_type), "诉求")
        description = "".join(part for part in (f"{region}的" if region else "", service_name or "", kind))
    notes = status_label(ticket.status)
    address = open311.get("address")
    return {
        "service_request_id": ticket.number,
        "status": public_status(ticket.status),
        "status_notes": notes,
        "service_name": service_name,
        "service_code": department,
        "description": description,
        "agency_responsible": unit.name if unit else service_name,
        "service_notice": None,
        "requested_datetime": _iso(ticket.created_at),
        "updated_datetime": _iso(ticket.updated_at),
        "expected_datetime": _iso(ticket.deadline or ticket.external_deadline),
        "address": redact(str(address)) if address else region,
        "address_id": open311.get("address_id"),
        "zipcode": None,
        "lat": open311.get("lat"),
        "long": open311.get("long"),
        "media_url": open311.get("media_url"),
    }


async def find_requests(session: AsyncSession, directory: Directory, query: RequestQuery) -> list[dict[str, Any]]:
    """The service requests matching ``query``, newest first."""
    stmt = select(Ticket)
    start = query.start
    if start is None and not query.numbers:
        # The spec's default window: 90 days before end_date (or now).
        start = (query.end or utcnow()) - DEFAULT_WINDOW
    if query.numbers:
        stmt = stmt.where(Ticket.number.in_(query.numbers))
    if query.service_codes:
        stmt = stmt.where(Ticket.department.in_(query.service_codes))
    if start:
        stmt = stmt.where(Ticket.created_at >= start)
    if query.end:
        stmt = stmt.where(Ticket.created_at <= query.end)
    if query.statuses:
        stmt = stmt.where(Ticket.status.in_(_statuses_of(query.statuses)))
    stmt = stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(min(query.limit, MAX_RESULTS))
    tickets = list((await session.execute(stmt)).scalars())
    metas = await _first_meta(session, [t.id for t in tickets])
    return [service_request(t, metas.get(t.id, {}), directory) for t in tickets]


async def number_of_token(session: AsyncSession, token: str) -> str | None:
    """The ticket number the worker gave the request posted with ``token`` (None: not yet, or never)."""
    stmt = (select(Ticket.number).join(Entry, Entry.ticket_id == Ticket.id)
            .where(Entry.channel == CHANNEL, Entry.channel_message_id == token))
    return (await session.execute(stmt)).scalar_one_or_none()
