"""The open tickets' duplicate index and same-matter graph, kept up to date as tickets arrive, change
and close, so the clusters are a cheap walk of a stored graph instead of every ticket's neighbours
recomputed (20,000 open tickets: 28 CPU-s per rebuild before; bench/duplicates.py has the figures).

A :class:`LiveIndex` reads what changed since its watermark (``tickets.updated_at``, one indexed
range; a minute of overlap, since a transaction may commit after a later-stamped one was read) and,
for each changed ticket, drops it and — while open and within the window — adds it back with its
neighbours, which also gain it.  A ticket whose status, region and department did not change is left
alone, so the overlap costs a lookup, not a query of the index.  Tickets that age out of the window
are dropped at each catch-up.

The first catch-up builds the graph as a fresh build does (the whole index, then each ticket's
neighbours), so its clusters are the rebuild's.  A ticket added later is asked its neighbours, and
each of them is taken to have it as a neighbour too (not asked again: that is what makes a change
cheap).  The graph later catch-ups leave equals a fresh build's while no posting is capped
(:class:`~ticketing.duplicates.index.DuplicateIndex`: a feature shared by more than a fifth of the
open tickets is skipped); the cap moves with the number of tickets, so after large swings a few
pairs near the threshold may differ until the worker process restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ticketing.db.models.tickets import Entry, Ticket
from ticketing.duplicates.index import DEFAULT_THRESHOLD, DuplicateIndex, TicketText, star_clusters
from ticketing.tickets.lifecycle import OPEN_STATUSES, Status

OVERLAP = timedelta(minutes=1)
NEIGHBOURS = 1_000  # per ticket, as DuplicateIndex.clusters
# A cluster's main ticket is the one furthest along the handling loop (a unit already works on
# it); among equals, the oldest.
PROGRESS = {Status.ANSWERED: 0, Status.ANSWER_REVIEW: 1, Status.HANDLING: 2, Status.DISPATCHED: 3,
            Status.RETURNED: 4, Status.PENDING_REVIEW: 5}
_OPEN = frozenset(s.value for s in OPEN_STATUSES)


@dataclass(frozen=True)
class Row:
    """A changed ticket as the catch-up reads it."""

    ticket_id: int
    title: str | None
    text: str
    status: str
    region: str | None
    department: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class StoredCluster:
    """A cluster as the worker stores it: the main ticket and the others with their score to it."""

    main: int
    others: tuple[tuple[int, float], ...]

    def to_json(self) -> dict:
        return {"main": self.main, "others": [list(pair) for pair in self.others]}

    @classmethod
    def from_json(cls, data: dict) -> StoredCluster:
        return cls(int(data["main"]), tuple((int(t), float(s)) for t, s in data["others"]))


def matter_text(title: str | None, text: str | None) -> str:
    parts = [part for part in (title, text) if part]
    # A title cut from the text repeats it; counting it twice would only double its weight.
    if len(parts) == 2 and parts[1].startswith(parts[0].rstrip("…")):
        parts = parts[1:]
    return "\n".join(parts)


async def changed_tickets(session: AsyncSession, *, since: datetime | None, created_after: datetime) -> list[Row]:
    """Tickets created after ``created_after`` and changed since ``since`` (all when None), any status,
    each with its first citizen message."""
    first_entry = (select(func.min(Entry.id)).where(Entry.ticket_id == Ticket.id, Entry.author == "citizen")
                   .correlate(Ticket).scalar_subquery())
    citizen = aliased(Entry)
    stmt = (select(Ticket.id, Ticket.title, citizen.text, Ticket.status, Ticket.region, Ticket.department,
                   Ticket.created_at, Ticket.updated_at)
            .outerjoin(citizen, citizen.id == first_entry).where(Ticket.created_at >= created_after))
    if since is None:
        stmt = stmt.where(Ticket.status.in_(_OPEN))
    else:
        stmt = stmt.where(Ticket.updated_at >= since)
    return [Row(r.id, r.title, r.text or "", r.status, r.region, r.department, r.created_at, r.updated_at)
            for r in (await session.execute(stmt.order_by(Ticket.id))).all()]


class LiveIndex:
    """The index, its same-matter graph (ticket → neighbour → score) and what each ticket was."""

    def __init__(self, *, days: int = 30, threshold: float = DEFAULT_THRESHOLD, graph: bool = True) -> None:
        """``graph``: keep the same-matter graph (the worker's clusters); without it, only the index
        (a ticket page's duplicates, asked of the index on the fly)."""
        self.days = days
        self.with_graph = graph
        self.index = DuplicateIndex(threshold=threshold)
        # Each ticket's neighbours as the index gave them (a query is not quite symmetric: a posting
        # capped for one side's buckets may not be for the other's), and who names each ticket.
        self.graph: dict[int, dict[int, float]] = {}
        self.into: dict[int, set[int]] = {}
        self.state: dict[int, tuple[str, str | None, str | None, datetime]] = {}
        self.watermark: datetime | None = None

    def __len__(self) -> int:
        return len(self.state)

    def add(self, item: TicketText, status: str, created_at: datetime) -> None:
        self.remove(item.ticket_id)
        self.index.add(item)
        if self.with_graph:
            self.graph[item.ticket_id], self.into[item.ticket_id] = {}, set()
            for n in self.index.neighbours(TicketText(item.ticket_id, ""), limit=NEIGHBOURS):
                # The older ticket is not asked again: it is taken to find the new one as it is found.
                self._link(item.ticket_id, n.ticket_id, n.score)
                self._link(n.ticket_id, item.ticket_id, n.score)
        self.state[item.ticket_id] = (status, item.region, item.department, created_at)

    def _link(self, source: int, target: int, score: float) -> None:
        self.graph[source][target] = score
        self.into[target].add(source)

    def remove(self, ticket_id: int) -> None:
        if ticket_id not in self.state:
            return
        for other in self.graph.pop(ticket_id, {}):
            self.into[other].discard(ticket_id)
        for other in self.into.pop(ticket_id, set()):
            self.graph[other].pop(ticket_id, None)
        self.index.remove(ticket_id)
        del self.state[ticket_id]

    def apply(self, rows: list[Row], *, now: datetime) -> int:
        """Bring the index up to ``rows`` (CPU work: call it in a thread); how many tickets changed in it."""
        if not self.state and self.with_graph and len(rows) > 1:
            return self._build(rows, now=now)
        changed = 0
        for row in rows:
            known = self.state.get(row.ticket_id)
            if row.status not in _OPEN:
                changed += known is not None
                self.remove(row.ticket_id)
            elif known is None or known[:3] != (row.status, row.region, row.department):
                if known is not None and known[1:3] == (row.region, row.department):
                    # Only the status moved (signed, answered …): the neighbours are the same.
                    self.state[row.ticket_id] = (row.status, *known[1:])
                else:
                    self.add(TicketText(row.ticket_id, matter_text(row.title, row.text), row.region,
                                        row.department), row.status, row.created_at)
                changed += 1
            if self.watermark is None or row.updated_at > self.watermark:
                self.watermark = row.updated_at
        oldest = now - timedelta(days=self.days)
        for ticket_id in [t for t, (_, _, _, created) in self.state.items() if created < oldest]:
            self.remove(ticket_id)
            changed += 1
        return changed

    def _build(self, rows: list[Row], *, now: datetime) -> int:
        """The first catch-up: index every open ticket, then ask each its neighbours of the whole index,
        as a fresh build does (one by one, the first tickets would meet through features that the
        posting cap skips once the index is full)."""
        oldest = now - timedelta(days=self.days)
        for row in rows:
            if row.status in _OPEN and row.created_at >= oldest:
                self.index.add(TicketText(row.ticket_id, matter_text(row.title, row.text), row.region,
                                          row.department))
                self.state[row.ticket_id] = (row.status, row.region, row.department, row.created_at)
            if self.watermark is None or row.updated_at > self.watermark:
                self.watermark = row.updated_at
        self.graph = {ticket_id: {} for ticket_id in self.state}
        self.into = {ticket_id: set() for ticket_id in self.state}
        for ticket_id in self.state:
            for n in self.index.neighbours(TicketText(ticket_id, ""), limit=NEIGHBOURS):
                self._link(ticket_id, n.ticket_id, n.score)
        return len(self.state)

    async def read_changes(self, session: AsyncSession, *, now: datetime) -> list[Row]:
        since = None if self.watermark is None else self.watermark - OVERLAP
        return await changed_tickets(session, since=since, created_after=now - timedelta(days=self.days))

    def clusters(self, *, min_size: int = 2) -> list[StoredCluster]:
        """The current clusters, biggest first, each around its main ticket (furthest along, then oldest)."""
        found = []
        for group in star_clusters({t: near.keys() for t, near in self.graph.items()}, min_size=min_size):
            members = sorted(group, key=lambda t: (PROGRESS.get(Status(self.state[t][0]), 9), self.state[t][3], t))
            main = members[0]
            near = self.graph[main]
            found.append(StoredCluster(main, tuple((t, near.get(t, 0.0)) for t in members[1:])))
        return found
