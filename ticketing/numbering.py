"""Human-readable ticket numbers: PDS + local date + a daily sequence (PDS2026112700042).

The sequence lives in one row per day, bumped with an atomic upsert inside the caller's
transaction: PostgreSQL row-locks it until commit and SQLite serialises writers, so two
workers can never mint the same number, and a rolled-back ticket gives its number back.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.models import NumberCounter

PREFIX = "PDS"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
NUMBER_RE = re.compile(rf"{PREFIX}\d{{8}}\d{{5,}}")


def local_day(at: datetime) -> date:
    return at.astimezone(LOCAL_TZ).date()


def format_number(day: date, seq: int) -> str:
    return f"{PREFIX}{day:%Y%m%d}{seq:05d}"


async def mint_number(session: AsyncSession, at: datetime) -> str:
    day = local_day(at)
    dialect = session.bind.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(NumberCounter)
        .values(day=day, value=1)
        .on_conflict_do_update(index_elements=[NumberCounter.day], set_={"value": NumberCounter.value + 1})
        .returning(NumberCounter.value)
    )
    seq = (await session.execute(stmt)).scalar_one()
    return format_number(day, seq)
