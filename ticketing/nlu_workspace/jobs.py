"""Training jobs: their state, progress and log, as the admin pages show them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.accounts.audit import audit
from ticketing.db.models.base import utcnow
from ticketing.db.models.nlu import NluTrainingJob
from ticketing.errors import WorkspaceError

# --------------------------------------------------------------------------- training jobs

async def create_job(session: AsyncSession, *, actor: str, epochs: int | None) -> NluTrainingJob:
    job = NluTrainingJob(status="running", phase="准备训练数据", requested_by=actor, created_at=utcnow(),
                         epochs=epochs, progress=0.0, log="")
    session.add(job)
    await session.flush()
    await audit(session, actor=actor, action="nlu_training_started", target=str(job.id))
    return job


async def get_job(session: AsyncSession, job_id: int) -> NluTrainingJob:
    job = await session.get(NluTrainingJob, job_id)
    if job is None:
        raise WorkspaceError(404, "job_not_found", f"没有训练任务 {job_id}")
    return job


async def jobs(session: AsyncSession, limit: int = 20) -> list[NluTrainingJob]:
    return list((await session.execute(select(NluTrainingJob).order_by(NluTrainingJob.id.desc()).limit(limit))).scalars())


async def update_job(session: AsyncSession, job_id: int, **changes: Any) -> NluTrainingJob:
    job = await get_job(session, job_id)
    for key, value in changes.items():
        setattr(job, key, value)
    if changes.get("status") in ("succeeded", "failed", "cancelled"):
        job.finished_at = utcnow()
    return job
