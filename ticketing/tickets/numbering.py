"""Human-readable ticket numbers: PDS + local date + a daily sequence (PDS2026112700042).

The sequence lives in one row per day, bumped with an atomic upsert, so two workers can
never mint the same number.  One statement reserves a block of K numbers at once
(``value = value + K … RETURNING value``): a batch of tickets costs one round trip, not one per
ticket.

On SQLite (one writer at a time anyway) the bump runs inside the ticket's transaction and a
rolled-back ticket gives its numbers back.  On PostgreSQL it runs autocommitted on a connection
of its own (:class:`NumberMint`): holding the day's row lock until the tickets commit would
serialise every worker on that row.  That connection is *not* taken from the sessions' pool:
when every pooled connection is held by a transaction waiting for a number, a mint that needs
one more pooled connection waits forever (``HOTLINE_WORKER_BATCH`` ≥ 40 deadlocked the pool
that way).  The price is a gap in the sequence when a ticket transaction rolls back.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from config.local_time import LOCAL_TZ
from ticketing.db.models.tickets import NumberCounter

PREFIX = "PDS"
NUMBER_RE = re.compile(rf"{PREFIX}\d{{8}}\d{{5,}}")


def local_day(at: datetime) -> date:
    return at.astimezone(LOCAL_TZ).date()


def format_number(day: date, seq: int) -> str:
    return f"{PREFIX}{day:%Y%m%d}{seq:05d}"


def _upsert(insert, day: date, count: int = 1):
    return (
        insert(NumberCounter)
        .values(day=day, value=count)
        .on_conflict_do_update(index_elements=[NumberCounter.day], set_={"value": NumberCounter.value + count})
        .returning(NumberCounter.value)
    )


def _block(day: date, last: int, count: int) -> list[str]:
    return [format_number(day, seq) for seq in range(last - count + 1, last + 1)]


async def reserve_numbers(executor: AsyncSession | AsyncConnection, day: date, count: int) -> list[str]:
    """``count`` consecutive numbers of ``day`` in one statement, inside the caller's transaction."""
    if count <= 0:
        return []
    insert = postgresql.insert if executor.bind.dialect.name == "postgresql" else sqlite.insert
    last = (await executor.execute(_upsert(insert, day, count))).scalar_one()
    return _block(day, last, count)


async def mint_number(session: AsyncSession, at: datetime) -> str:
    """Mint inside the caller's transaction."""
    return (await reserve_numbers(session, local_day(at), 1))[0]


def detached_minting(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Whether this database should mint numbers outside the ticket's transaction."""
    return sessions.kw["bind"].dialect.name == "postgresql"


class NumberMint:
    """Autocommitted reservations on one connection of their own (PostgreSQL), outside the pool.

    Reservations of one process queue on that connection (one short statement each); the
    engine is opened on first use and closed by :meth:`aclose`.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._url = engine.url
        self._engine: AsyncEngine | None = None
        self._lock = asyncio.Lock()

    def _own_engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = create_async_engine(self._url, pool_size=1, max_overflow=0, pool_recycle=1800,
                                               isolation_level="AUTOCOMMIT")
        return self._engine

    async def reserve(self, day: date, count: int) -> list[str]:
        if count <= 0:
            return []
        async with self._lock, self._own_engine().connect() as conn:
            last = (await conn.execute(_upsert(postgresql.insert, day, count))).scalar_one()
        return _block(day, last, count)

    async def mint(self, at: datetime) -> str:
        return (await self.reserve(local_day(at), 1))[0]

    async def aclose(self) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            await engine.dispose()

