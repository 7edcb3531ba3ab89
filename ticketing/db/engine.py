"""Engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def create_engine(url: str, *, echo: bool = False, read_only: bool = False) -> AsyncEngine:
    """``read_only``: a replica's engine (a smaller pool: only the analytics pages read through it)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Several sessions write concurrently; wait for the lock instead of failing at once.
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # No pre-ping (a round trip per checkout): a connection broken by a server restart fails
    # one message, which stays unacknowledged and is retried.
    # Custom plans only: asyncpg keeps each statement prepared, and after five runs PostgreSQL may
    # settle on one generic plan, made while a table was small, for good.  On a young database
    # the worker's redelivery lookup so kept the message ids as a filter over every entry of the
    # channel instead of an index condition, and the worker slowed from 1,500 to 600 tickets/s
    # as the entries grew.  Planning each run costs a fraction of a millisecond.
    pool_size, max_overflow = (5, 5) if read_only else (30, 10)
    return create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=max_overflow, pool_recycle=1800,
                               connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}})


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
