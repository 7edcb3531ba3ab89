"""The hand-written migrations build exactly the tables the typed models declare, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ticketing.db.engine import create_engine
from ticketing.db.models.base import Base


async def test_migrations_at_head_match_the_models(stack):
    engine = create_engine(stack.database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata))
    finally:
        await engine.dispose()
    # Only differences a migration cannot express the same way on SQLite and PostgreSQL are
    # tolerated: none today.
    assert diff == []
