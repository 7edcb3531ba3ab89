"""Duplicate suggestions over the open tickets: the cached index, a ticket's likely duplicates,
the current clusters, and merging a cluster into its main ticket.

Why an in-memory index rebuilt every ``refresh_seconds`` rather than a table of signatures: a
signature's IDF weights depend on all the open tickets of the window, so stored vectors would go
stale with every new ticket; what is stored instead is the text, and rebuilding the index from the
open tickets of the last ``days`` is one indexed query plus linear work (5,000 open tickets: about
0.3 CPU-s, in a thread; bench/duplicates.py).  The clusters are computed once per build, when the
clusters page first asks (5,000 tickets: about 2 CPU-s, in a thread).  A query then touches only the tickets sharing a site feature
(:mod:`ticketing.duplicates.index`), and a ticket newer than the index is compared on the fly.
Each process keeps its own index; a merge in this process refreshes it at once, other processes
within ``refresh_seconds`` — and a stale suggestion cannot do harm, since merging re-reads and
locks both tickets and refuses what the lifecycle forbids.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Entry, Ticket
from ticketing.duplicates.index import DEFAULT_THRESHOLD, DuplicateIndex, TicketText
from ticketing.tickets.lifecycle import OPEN_STATUSES, Status

# A cluster's main ticket is the one furthest along the handling loop (a unit already works on
# it); among equals, the oldest.
_PROGRESS = {Status.ANSWERED: 0, Status.ANSWER_REVIEW: 1, Status.HANDLING: 2, Status.DISPATCHED: 3,
             Status.RETURNED: 4, Status.PENDING_REVIEW: 5}


@dataclass(frozen=True)
class Candidate:
    """An open ticket as the suggestions show it (no contact details: operators see those on the ticket)."""

    ticket_id: int
    number: str
    title: str | None
    text: str
    channel: str
    status: str
    region: str | None
    department: str | None
    created_at: datetime

    @property
    def mergeable(self) -> bool:
        """Only a ticket still in review can be folded into another (the lifecycle's merge)."""
        return self.status == Status.PENDING_REVIEW


@dataclass(frozen=True)
class Suggestion:
    candidate: Candidate
    score: float


@dataclass(frozen=True)
class Cluster:
    main: Candidate
    others: tuple[Suggestion, ...]

    @property
    def size(self) -> int:
        return 1 + len(self.others)


def _matter_text(title: str | None, text: str | None) -> str:
    parts = [part for part in (title, text) if part]
    # A title cut from the text repeats it; counting it twice would only double its weight.
    if len(parts) == 2 and parts[1].startswith(parts[0].rstrip("…")):
        parts = parts[1:]
    return "\n".join(parts)


async def open_candidates(session: AsyncSession, *, since: datetime) -> list[Candidate]:
    """Open tickets created since ``since``, each with its first citizen message."""
    first_entry = (select(func.min(Entry.id)).where(Entry.ticket_id == Ticket.id, Entry.author == "citizen")
                   .correlate(Ticket).scalar_subquery())
    citizen = aliased(Entry)
    stmt = (select(Ticket.id, Ticket.number, Ticket.title, citizen.text, Ticket.channel, Ticket.status,
                   Ticket.region, Ticket.department, Ticket.created_at)
            .outerjoin(citizen, citizen.id == first_entry)
            .where(Ticket.status.in_([s.value for s in OPEN_STATUSES]), Ticket.created_at >= since)
            .order_by(Ticket.id))
    return [Candidate(row.id, row.number, row.title, row.text or "", row.channel, row.status, row.region,
                      row.department, row.created_at)
            for row in (await session.execute(stmt)).all()]


class DuplicateFinder:
    """One per process: the index of the open tickets of the last ``days``, rebuilt when older than
    ``refresh_seconds`` (or invalidated by a merge)."""

    def __init__(self, *, days: int = 30, refresh_seconds: float = 30.0, threshold: float = DEFAULT_THRESHOLD,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.days = days
        self.refresh_seconds = refresh_seconds
        self.threshold = threshold
        self.clock = clock
        self._index: DuplicateIndex | None = None
        self._candidates: dict[int, Candidate] = {}
        self._clusters: list[Cluster] | None = None  # computed once per build, when first asked
        self._built_at = 0.0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._index = None

    async def _current(self, session: AsyncSession) -> tuple[DuplicateIndex, dict[int, Candidate]]:
        async with self._lock:
            if self._index is None or self.clock() - self._built_at >= self.refresh_seconds:
                candidates = await open_candidates(session, since=utcnow() - timedelta(days=self.days))
                items = [TicketText(c.ticket_id, _matter_text(c.title, c.text), c.region, c.department)
                         for c in candidates]
                # CPU work (about 50 ms per thousand tickets): off the event loop.
                self._index = await asyncio.to_thread(DuplicateIndex.build, items, threshold=self.threshold)
                self._candidates = {c.ticket_id: c for c in candidates}
                self._clusters = None
                self._built_at = self.clock()
            return self._index, self._candidates

    async def similar_to(self, session: AsyncSession, ticket: Ticket, text: str, *, limit: int = 10
                         ) -> list[Suggestion]:
        """The open tickets that are likely the same matter as ``ticket`` (whose first citizen message
        is ``text``), best first."""
        index, candidates = await self._current(session)
        item = TicketText(ticket.id, _matter_text(ticket.title, text), ticket.region, ticket.department)
        return [Suggestion(candidates[n.ticket_id], n.score) for n in index.neighbours(item, limit=limit)
                if n.ticket_id in candidates]

    async def clusters(self, session: AsyncSession) -> list[Cluster]:
        """The current groups of likely duplicates, biggest first, each around its main ticket."""
        index, candidates = await self._current(session)
        if self._clusters is not None:
            return self._clusters
        found = []
        # Every ticket's neighbours (about 0.4 CPU-ms a ticket, bench/duplicates.py): once per build,
        # off the event loop.
        for group in await asyncio.to_thread(index.clusters):
            members = sorted((candidates[ticket_id] for ticket_id in group),
                             key=lambda c: (_PROGRESS.get(Status(c.status), 9), c.created_at, c.ticket_id))
            main = members[0]
            main_item = TicketText(main.ticket_id, "")
            scores = {n.ticket_id: n.score for n in index.neighbours(main_item, limit=len(candidates))}
            others = tuple(Suggestion(c, scores.get(c.ticket_id, 0.0)) for c in members[1:])
            found.append(Cluster(main, others))
        self._clusters = found
        return found


def mergeable_numbers(cluster: Cluster, chosen: Sequence[str] | None = None) -> list[str]:
    """The numbers of the cluster's duplicates that can be merged into its main ticket (all, or the chosen)."""
    numbers = [s.candidate.number for s in cluster.others if s.candidate.mergeable]
    return numbers if chosen is None else [n for n in numbers if n in set(chosen)]
