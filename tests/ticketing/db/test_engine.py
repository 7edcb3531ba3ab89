"""The PostgreSQL engine's connections plan every statement with its own values."""

from sqlalchemy import text

from ticketing.db.engine import create_engine


async def test_postgresql_connections_never_settle_on_a_generic_plan(pg_database):
    # asyncpg keeps statements prepared; a generic plan made on a young, small table would stay
    # (see ticketing/db/engine.py).  Both engines, the primary's and a replica's, say so.
    for read_only in (False, True):
        engine = create_engine(pg_database, read_only=read_only)
        try:
            async with engine.connect() as conn:
                assert (await conn.execute(text("SHOW plan_cache_mode"))).scalar() == "force_custom_plan"
        finally:
            await engine.dispose()
