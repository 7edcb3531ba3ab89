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


def test_no_index_is_the_leading_part_of_another():
    """An index whose columns open another index of the table serves no lookup the longer one does
    not, and costs a B-tree insert per row (``ix_tickets_status`` did, on every new ticket)."""
    redundant = []
    for table in Base.metadata.sorted_tables:
        keys = {index.name: tuple(column.name for column in index.columns) for index in table.indexes
                if not index.unique}
        for name, columns in keys.items():
            longer = [other for other, cols in keys.items()
                      if other != name and len(cols) > len(columns) and cols[:len(columns)] == columns]
            if longer:
                redundant.append((table.name, name, longer))
    assert redundant == []
