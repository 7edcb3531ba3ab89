"""Each operator's canned replies (常用回复)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.accounts.roles import Actor
from ticketing.db.models.accounts import CannedReply
from ticketing.db.models.base import utcnow
from ticketing.errors import ConsoleError
from ticketing.inputs import clean_text

# --------------------------------------------------------------------------- canned replies

async def canned_replies(session: AsyncSession, actor: Actor) -> list[CannedReply]:
    stmt = (select(CannedReply).where(or_(CannedReply.owner.is_(None), CannedReply.owner == actor.username))
            .order_by(CannedReply.owner.is_not(None), CannedReply.title))
    return list((await session.execute(stmt)).scalars())


async def add_canned_reply(session: AsyncSession, actor: Actor, title: Any, text: Any, *,
                           shared: bool = False) -> CannedReply:
    if shared and not actor.supervisor:
        raise ConsoleError(403, "supervisor_only", "只有班长可以维护公共常用语")
    title = clean_text(title, "标题")[:100]
    text = clean_text(text, "常用语内容")
    row = CannedReply(owner=None if shared else actor.username, title=title, text=text, created_at=utcnow())
    session.add(row)
    await session.flush()
    return row


async def delete_canned_reply(session: AsyncSession, actor: Actor, reply_id: int) -> None:
    row = await session.get(CannedReply, reply_id)
    if row is None or (row.owner not in (None, actor.username)):
        raise ConsoleError(404, "not_found", "没有这条常用语")
    if row.owner is None and not actor.supervisor:
        raise ConsoleError(403, "supervisor_only", "只有班长可以删除公共常用语")
    await session.execute(delete(CannedReply).where(CannedReply.id == reply_id))
