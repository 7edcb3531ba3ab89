"""The batch intake's statements stay index lookups as the tables grow."""

from datetime import datetime, timezone

from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from connectors.base import InboundMessage
from ticketing.db.engine import create_engine
from ticketing.intake.batch import stored_query


def _message(channel: str, native_id: str) -> InboundMessage:
    return InboundMessage(channel=channel, native_id=native_id, sender_id="s1", text="路灯不亮",
                          received_at=datetime.now(timezone.utc))


async def _plan(url: str, sql: str) -> str:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            # With sequential scans priced out, the planner still picks one only when no index fits.
            await conn.execute(text("SET enable_seqscan = off"))
            rows = await conn.execute(text("EXPLAIN " + sql))
            return "\n".join(row[0] for row in rows)
    finally:
        await engine.dispose()


async def test_the_redelivery_lookup_uses_the_channel_message_index(pg_database):
    stmt = stored_query([_message("web", "m1"), _message("email", "<a@b>"), _message("web", "m1")])
    sql = str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    plan = await _plan(pg_database, sql)
    assert "uq_entry_channel_message" in plan, plan
    assert "Seq Scan" not in plan, plan
    # Both columns bound the index scan: the ids are not a filter applied to a channel's every row.
    conditions = [line for line in plan.splitlines() if "Index Cond" in line]
    assert conditions and all("channel_message_id" in line for line in conditions), plan


def test_no_messages_need_no_lookup():
    assert stored_query([]) is None


def test_the_lookup_asks_for_each_channel_and_id_once():
    stmt = stored_query([_message("wechat", "m1"), _message("wechat", "m1"), _message("web", "m2")])
    sql = str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    assert "IN ('web', 'wechat')" in sql and "IN ('m1', 'm2')" in sql, sql
