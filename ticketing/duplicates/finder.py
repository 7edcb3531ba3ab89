"""Duplicate suggestions over the open tickets: a ticket's likely duplicates, the current
clusters, and merging a cluster into its main ticket.

Why an in-memory index rather than a table of signatures: the index is the inverted postings
(:mod:`ticketing.duplicates.index`), which a table would only hold as rows to read back; what is
stored is the text.  Each web process keeps its own index of the open tickets of the last ``days``
(no graph), brought up to date from ``tickets.updated_at`` every ``refresh_seconds``
(:class:`~ticketing.duplicates.live.LiveIndex`): a ticket page's duplicates are one query of it.
The clusters are the worker's (:mod:`gateway.worker.clusters` keeps the graph as tickets arrive and
close and stores the clusters); :meth:`DuplicateFinder.clusters` computes them here only until the
worker has stored its own.  A stale suggestion cannot do harm: the tickets are re-read when shown
(:func:`resolve_clusters`), and merging re-reads and locks both tickets and refuses what the
lifecycle forbids.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Entry, Ticket
from ticketing.duplicates.index import DEFAULT_THRESHOLD, TicketText
from ticketing.duplicates.live import PROGRESS, LiveIndex, StoredCluster, matter_text
from ticketing.tickets.lifecycle import OPEN_STATUSES, Status


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


async def candidates_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, Candidate]:
    """The open ones of ``ids``, each with its first citizen message."""
    found: dict[int, Candidate] = {}
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), 500):  # bound the IN list
        found.update({c.ticket_id: c for c in await _candidates(session, Ticket.id.in_(wanted[start:start + 500]))})
    return found


async def open_candidates(session: AsyncSession, *, since: datetime) -> list[Candidate]:
    """Open tickets created since ``since``, each with its first citizen message."""
    return await _candidates(session, Ticket.created_at >= since)


async def _candidates(session: AsyncSession, condition: Any) -> list[Candidate]:
    first_entry = (select(func.min(Entry.id)).where(Entry.ticket_id == Ticket.id, Entry.author == "citizen")
                   .correlate(Ticket).scalar_subquery())
    citizen = aliased(Entry)
    stmt = (select(Ticket.id, Ticket.number, Ticket.title, citizen.text, Ticket.channel, Ticket.status,
                   Ticket.region, Ticket.department, Ticket.created_at)
            .outerjoin(citizen, citizen.id == first_entry)
            .where(Ticket.status.in_([s.value for s in OPEN_STATUSES]), condition)
            .order_by(Ticket.id))
    return [Candidate(row.id, row.number, row.title, row.text or "", row.channel, row.status, row.region,
                      row.department, row.created_at)
            for row in (await session.execute(stmt)).all()]


class DuplicateFinder:
    """One per web process: the index of the open tickets of the last ``days`` (no graph), brought
    up to date from ``tickets.updated_at`` when older than ``refresh_seconds`` or after a merge here."""

    def __init__(self, *, days: int = 30, refresh_seconds: float = 30.0, threshold: float = DEFAULT_THRESHOLD,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.days = days
        self.refresh_seconds = refresh_seconds
        self.threshold = threshold
        self.clock = clock
        self._live: LiveIndex | None = None
        self._caught_up_at = -math.inf
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._caught_up_at = -math.inf

    async def _catch_up(self, session: AsyncSession) -> LiveIndex:
        """Call with the lock held: nothing reads the index while it changes."""
        if self._live is None or self.clock() - self._caught_up_at >= self.refresh_seconds:
            live = self._live or LiveIndex(days=self.days, threshold=self.threshold, graph=False)
            now = utcnow()
            rows = await live.read_changes(session, now=now)
            if self._live is None:
                # The first build (about 50 CPU-ms per thousand tickets): off the event loop, which
                # nothing else can be reading yet.  Later catch-ups are a few tickets.
                await asyncio.to_thread(live.apply, rows, now=now)
            else:
                live.apply(rows, now=now)
            self._live = live
            self._caught_up_at = self.clock()
        return self._live

    async def similar_to(self, session: AsyncSession, ticket: Ticket, text: str, *, limit: int = 10
                         ) -> list[Suggestion]:
        """The open tickets that are likely the same matter as ``ticket`` (whose first citizen message
        is ``text``), best first."""
        async with self._lock:
            live = await self._catch_up(session)
            item = TicketText(ticket.id, matter_text(ticket.title, text), ticket.region, ticket.department)
            found = live.index.neighbours(item, limit=limit)
        candidates = await candidates_by_id(session, [n.ticket_id for n in found])
        return [Suggestion(candidates[n.ticket_id], n.score) for n in found if n.ticket_id in candidates]

    async def clusters(self, session: AsyncSession) -> list[Cluster]:
        """The groups of likely duplicates computed here, from every ticket's neighbours: what the
        clusters page shows only until the worker has stored its own (:mod:`ticketing.duplicates.live`)."""
        async with self._lock:
            live = await self._catch_up(session)
            statuses = {ticket_id: (status, created) for ticket_id, (status, _, _, created) in live.state.items()}
            groups = await asyncio.to_thread(live.index.clusters)
            stored = []
            for group in groups:
                members = sorted(group, key=lambda t: (PROGRESS.get(Status(statuses[t][0]), 9), statuses[t][1], t))
                scores = {n.ticket_id: n.score
                          for n in live.index.neighbours(TicketText(members[0], ""), limit=len(statuses))}
                stored.append(StoredCluster(members[0], tuple((t, scores.get(t, 0.0)) for t in members[1:])))
        return await resolve_clusters(session, stored)


async def resolve_clusters(session: AsyncSession, stored: Sequence[StoredCluster]) -> list[Cluster]:
    """The stored clusters with their tickets as they are now: a ticket closed or merged since is left
    out, and so is a cluster with fewer than two tickets left."""
    candidates = await candidates_by_id(session, [t for c in stored for t in (c.main, *(o for o, _ in c.others))])
    found = []
    for cluster in stored:
        others = tuple(Suggestion(candidates[t], score) for t, score in cluster.others if t in candidates)
        if cluster.main in candidates and others:
            found.append(Cluster(candidates[cluster.main], others))
    found.sort(key=lambda c: (-c.size, c.main.ticket_id))
    return found


def mergeable_numbers(cluster: Cluster, chosen: Sequence[str] | None = None) -> list[str]:
    """The numbers of the cluster's duplicates that can be merged into its main ticket (all, or the chosen)."""
    numbers = [s.candidate.number for s in cluster.others if s.candidate.mergeable]
    return numbers if chosen is None else [n for n in numbers if n in set(chosen)]
