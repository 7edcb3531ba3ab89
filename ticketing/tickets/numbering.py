"""Human-readable ticket numbers: PDS + local date + a daily sequence (PDS2026112700042).

The sequence lives in one row per day, bumped with an atomic upsert, so two workers can
never mint the same number.  On SQLite (one writer at a time anyway) the bump runs inside
the ticket's transaction and a rolled-back ticket gives its number back.  On PostgreSQL it
runs as one autocommitted statement (:func:`mint_number_detached`): holding the day's row
lock until the ticket commits — or even across one more round trip to a busy event loop —
would serialise every worker on that row; the price is a gap in the sequence when a ticket
transaction rolls back.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.local_time import LOCAL_TZ
from ticketing.db.models.tickets import NumberCounter

PREFIX = "PDS"
NUMBER_RE = re.compile(rf"{PREFIX}\d{{8}}\d{{5,}}")


def local_day(at: datetime) -> date:
    return at.astimezone(LOCAL_TZ).date()


def format_number(day: date, seq: int) -> str:
    return f"{PREFIX}{day:%Y%m%d}{seq:05d}"


def _upsert(insert, day: date):
    return (
        insert(NumberCounter)
        .values(day=day, value=1)
        .on_conflict_do_update(index_elements=[NumberCounter.day], set_={"value": NumberCounter.value + 1})
        .returning(NumberCounter.value)
    )


async def mint_number(session: AsyncSession, at: datetime) -> str:
    """Mint inside the caller's transaction."""
    day = local_day(at)
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    seq = (await session.execute(_upsert(insert, day))).scalar_one()
    return format_number(day, seq)


def detached_minting(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Whether this database should mint numbers outside the ticket's transaction."""
    return sessions.kw["bind"].dialect.name == "postgresql"


async def mint_number_detached(sessions: async_sessionmaker[AsyncSession], at: datetime) -> str:
    """Mint in a short transaction of its own (PostgreSQL)."""
    engine = sessions.kw["bind"]
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        seq = (await conn.execute(_upsert(postgresql.insert, local_day(at)))).scalar_one()
    return format_number(local_day(at), seq)
