"""The operators' queue: filters, text search and counts."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.accounts.audit import audit
from ticketing.accounts.roles import Actor
from ticketing.db.models.tickets import Entry, Ticket
from ticketing.tickets.lifecycle import OPEN_STATUSES, Status
from ticketing.tickets.masking import mask_phone
from ticketing.tickets.numbering import NUMBER_RE
from ticketing.tickets.read_markers import followup_after_dispatch, unread

# --------------------------------------------------------------------------- the queue

@dataclass(frozen=True)
class QueueFilter:
    status: str | None = None  # None: pending_review (or every status when searching); "all"
    channel: str | None = None
    department: str | None = None
    region: str | None = None
    request_type: str | None = None
    assignee: str | None = None  # a username, "none" (unclaimed)
    urgent: bool | None = None
    q: str | None = None
    # "我的工单": also this operator's tickets now with a unit whose citizen wrote again since
    # the dispatch (and since the operator last looked), whatever the status filter says.
    followups_of: str | None = None


@dataclass
class QueuePage:
    tickets: list[Ticket]
    total: int | None
    limit: int
    offset: int
    searching: bool
    unread: set[int] = field(default_factory=set)  # ids of the tickets the viewer has not seen since new activity


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# A text search looks at the newest matching messages/titles only: enough to find what a
# caller describes, and it keeps a common word from reading every message ever received.
SEARCH_WINDOW = 500


def _like(column, q: str):
    pattern = f"%{_escape_like(q)}%"
    # ILIKE only when case can matter: for Chinese text LIKE is the same and much cheaper.
    if q.lower() != q.upper():
        return column.ilike(pattern, escape="\\")
    return column.like(pattern, escape="\\")


def searched_phone(q: str | None) -> str | None:
    """The phone number a search is for, when it is one (such a search confirms whose ticket it is)."""
    digits = (q or "").strip().replace(" ", "").replace("-", "").removeprefix("+86")
    return digits if digits.isdigit() and len(digits) >= 7 else None


async def search(session: AsyncSession, flt: QueueFilter, actor: Actor, *, limit: int = 50,
                 offset: int = 0) -> QueuePage:
    """The queue as ``actor`` asked for it; a search by phone number is written to the audit log
    (who, when, which number masked, how many tickets it found).  The caller commits.

    An operator filtering on their own tickets ("我的工单") also gets those dispatched to a unit
    with new citizen messages; every row says whether the actor has seen its latest activity."""
    if flt.assignee and flt.assignee == actor.username and flt.followups_of is None:
        flt = replace(flt, followups_of=actor.username)
    page = await queue(session, flt, limit=limit, offset=offset)
    page.unread = await unread(session, actor.username, [t.id for t in page.tickets])
    if (phone := searched_phone(flt.q)) is not None:
        await audit(session, actor=actor.username, action="search_phone", ip=actor.ip,
                    target=mask_phone(phone), detail={"found": len(page.tickets)})
    return page


def _exact_condition(q: str):
    """Ticket number or phone number, when ``q`` looks like one (index look-ups); else None."""
    q = q.strip()
    compact = q.replace(" ", "").replace("-", "")
    upper = compact.upper()
    if NUMBER_RE.fullmatch(upper):
        return Ticket.number == upper
    if upper.startswith("PDS") and upper[3:].isdigit():
        return Ticket.number.like(_escape_like(upper) + "%", escape="\\")
    if (phone := searched_phone(q)) is not None:
        return Ticket.citizen_phone == phone
    return None


async def _text_matches(session: AsyncSession, q: str) -> set[int]:
    """Ids of tickets whose citizen messages (text or subject) contain ``q``, newest first.

    A ticket's title is always taken from its first message's subject or text (pipeline,
    national feed, manual intake), so searching the messages covers titles too.  One bounded
    query instead of ``title LIKE … OR EXISTS(…)``, which PostgreSQL can only answer by
    scanning both tables in full.
    """
    q = q.strip()
    in_messages = (select(Entry.ticket_id)
                   .where(Entry.ticket_id.is_not(None), Entry.author == "citizen",
                          or_(_like(Entry.text, q), _like(Entry.subject, q)))
                   .order_by(Entry.id.desc()).limit(SEARCH_WINDOW))
    return set((await session.execute(in_messages)).scalars())


def _status_condition(status: str | None, searching: bool):
    if status in (None, ""):
        return None if searching else Ticket.status == Status.PENDING_REVIEW.value
    if status == "open":
        return Ticket.status.in_([s.value for s in OPEN_STATUSES])
    if status != "all":
        return Ticket.status == status
    return None


def _filtered(stmt, flt: QueueFilter, searching: bool):
    status = _status_condition(flt.status, searching)
    if status is not None and flt.followups_of:
        status = or_(status, followup_after_dispatch(flt.followups_of))
    if status is not None:
        stmt = stmt.where(status)
    for col, value in ((Ticket.channel, flt.channel), (Ticket.department, flt.department),
                       (Ticket.region, flt.region), (Ticket.request_type, flt.request_type)):
        if value:
            stmt = stmt.where(col == value)
    if flt.assignee == "none":
        stmt = stmt.where(Ticket.assignee.is_(None))
    elif flt.assignee:
        stmt = stmt.where(Ticket.assignee == flt.assignee)
    if flt.urgent is not None:
        stmt = stmt.where(Ticket.urgent.is_(flt.urgent))
    return stmt


async def queue(session: AsyncSession, flt: QueueFilter, *, limit: int = 50, offset: int = 0,
                count: bool = True) -> QueuePage:
    """Urgent tickets first (newest first: an emergency just reported is the one to act on),
    then the rest by waiting time (oldest first).  A search lists matches newest first.

    The two halves are two index-friendly queries (status, urgent, created_at) instead of one
    ORDER BY over a CASE expression, which PostgreSQL could only sort after reading everything.
    """
    limit = max(1, min(limit, 200))
    offset = max(0, offset)
    searching = bool(flt.q and flt.q.strip())
    base = _filtered(select(Ticket), flt, searching)
    if searching:
        exact = _exact_condition(flt.q or "")
        if exact is not None:
            base = base.where(exact)
        else:
            ids = await _text_matches(session, flt.q or "")
            if not ids:
                return QueuePage([], 0, limit, offset, True)
            base = base.where(Ticket.id.in_(sorted(ids)))
        rows = (await session.execute(base.order_by(Ticket.created_at.desc(), Ticket.id.desc())
                                      .limit(limit).offset(offset))).scalars()
        return QueuePage(list(rows), None, limit, offset, True)

    total, urgent_count = (await session.execute(_filtered(
        select(func.count(), func.coalesce(func.sum(case((Ticket.urgent.is_(True), 1), else_=0)), 0))
        .select_from(Ticket), flt, False))).one()
    total, urgent_count = int(total), int(urgent_count)
    tickets: list[Ticket] = []
    if offset < urgent_count:
        stmt = base.where(Ticket.urgent.is_(True)).order_by(Ticket.created_at.desc(), Ticket.id.desc())
        tickets += (await session.execute(stmt.limit(limit).offset(offset))).scalars()
    rest = limit - len(tickets)
    if rest > 0 and flt.urgent is not True:
        stmt = base.where(Ticket.urgent.is_(False)).order_by(Ticket.created_at, Ticket.id)
        tickets += (await session.execute(stmt.limit(rest).offset(max(0, offset - urgent_count)))).scalars()
    return QueuePage(tickets, total if count else None, limit, offset, False)


async def queue_counts(session: AsyncSession) -> dict[str, int]:
    """Headline numbers for the console header: waiting, urgent waiting, unclaimed.

    Two counts that the (status, urgent, …) and (status, assignee) indexes answer alone.
    """
    pending = Ticket.status == Status.PENDING_REVIEW.value
    total, urgent = (await session.execute(select(
        func.count(), func.coalesce(func.sum(case((Ticket.urgent.is_(True), 1), else_=0)), 0),
    ).select_from(Ticket).where(pending))).one()
    unclaimed = (await session.execute(
        select(func.count()).select_from(Ticket).where(pending, Ticket.assignee.is_(None)))).scalar_one()
    return {"pending": int(total), "urgent": int(urgent), "unclaimed": int(unclaimed)}
