"""The registry of trained NLU models: metrics, which one is active, and who activated it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.accounts.audit import audit
from ticketing.db.models.base import utcnow
from ticketing.db.models.nlu import NluModel
from ticketing.errors import WorkspaceError

# --------------------------------------------------------------------------- model registry

async def models(session: AsyncSession) -> list[NluModel]:
    return list((await session.execute(select(NluModel).order_by(NluModel.version.desc()))).scalars())


async def get_model(session: AsyncSession, version: int) -> NluModel:
    row = (await session.execute(select(NluModel).where(NluModel.version == version))).scalar_one_or_none()
    if row is None:
        raise WorkspaceError(404, "model_not_found", f"没有模型版本 {version}")
    return row


async def model_by_name(session: AsyncSession, name: str) -> NluModel | None:
    return (await session.execute(select(NluModel).where(NluModel.name == name)
                                  .order_by(NluModel.version.desc()).limit(1))).scalar_one_or_none()


async def active_model(session: AsyncSession) -> NluModel | None:
    return (await session.execute(select(NluModel).where(NluModel.status == "active")
                                  .order_by(NluModel.version.desc()).limit(1))).scalar_one_or_none()


async def register_model(session: AsyncSession, *, name: str, data_hash: str, path: str, trained_by: str,
                         epochs: int | None = None, train_seconds: float | None = None,
                         status: str = "trained", note: str | None = None) -> NluModel:
    version = ((await session.execute(select(func.max(NluModel.version)))).scalar_one() or 0) + 1
    row = NluModel(version=version, name=name, data_hash=data_hash, path=path, epochs=epochs, metrics=None,
                   status=status, trained_by=trained_by, trained_at=utcnow(), train_seconds=train_seconds,
                   note=note)
    session.add(row)
    await session.flush()
    return row


async def set_metrics(session: AsyncSession, version: int, metrics: dict[str, Any] | None, *,
                      failed: str | None = None) -> NluModel:
    row = await get_model(session, version)
    row.metrics = metrics
    if row.status in ("trained", "evaluated", "eval_failed"):
        row.status = "eval_failed" if failed else "evaluated"
    if failed:
        row.note = failed
    return row


async def mark_active(session: AsyncSession, version: int, *, actor: str, override_reason: str | None = None,
                      refused: Sequence[str] = ()) -> NluModel:
    row = await get_model(session, version)
    previous = await active_model(session)
    if previous is not None and previous.id != row.id:
        previous.status = "retired"
    row.status, row.activated_at, row.activated_by = "active", utcnow(), actor
    detail: dict[str, Any] = {"version": version, "model": row.name,
                              "previous": previous.version if previous is not None else None}
    if override_reason:
        detail.update(override_reason=override_reason, guard=list(refused))
    await audit(session, actor=actor, action="nlu_model_override" if override_reason else "nlu_model_activated",
                target=row.name, detail=detail)
    return row
