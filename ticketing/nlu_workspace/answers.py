"""FAQ answers the bot sends: edited by admins, effective without retraining."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.accounts.audit import audit
from ticketing.db.models.base import utcnow
from ticketing.db.models.nlu import NluAnswer
from ticketing.errors import WorkspaceError

# --------------------------------------------------------------------------- answers

async def answers(session: AsyncSession) -> dict[str, str]:
    return {a.key: a.text for a in (await session.execute(select(NluAnswer).order_by(NluAnswer.key))).scalars()}


async def answer_rows(session: AsyncSession) -> list[NluAnswer]:
    return list((await session.execute(select(NluAnswer).order_by(NluAnswer.key))).scalars())


async def set_answer(session: AsyncSession, key: str, text: Any, *, actor: str) -> NluAnswer:
    if not isinstance(text, str) or not text.strip():
        raise WorkspaceError(400, "empty_answer", "答复内容不能为空")
    if not isinstance(key, str) or not key.strip() or len(key) > 128:
        raise WorkspaceError(400, "bad_key", "答复的键不正确")
    row = (await session.execute(select(NluAnswer).where(NluAnswer.key == key))).scalar_one_or_none()
    if row is None:
        row = NluAnswer(key=key, text=text.strip(), updated_at=utcnow(), updated_by=actor)
        session.add(row)
    else:
        row.text, row.updated_at, row.updated_by = text.strip(), utcnow(), actor
    await session.flush()
    await audit(session, actor=actor, action="nlu_answer_changed", target=key)
    return row
