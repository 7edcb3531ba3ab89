"""A training job as the admin's browser sees it: the API's JSON and the live events carry the same
dict, with the failure explained in Chinese (failures.py) and times in the city's local time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from config.local_time import LOCAL_TZ
from gateway.web.admin.failures import explain
from ticketing.db.models.nlu import NluModel, NluTrainingJob

JOB_EVENT = "job"  # the SSE event name the training page listens for


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def local_text(value: datetime | None) -> str | None:
    """What a person reads: local wall-clock time, to the second."""
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S") if value is not None else None


def job_dict(job: NluTrainingJob, *, log: bool = True, model_version: int | None = None) -> dict[str, Any]:
    failure = explain(job.error) if job.status in ("failed", "cancelled") else None
    out = {"id": job.id, "status": job.status, "phase": job.phase, "progress": job.progress, "epochs": job.epochs,
           "data_hash": job.data_hash, "requested_by": job.requested_by, "created_at": iso(job.created_at),
           "finished_at": iso(job.finished_at), "created_local": local_text(job.created_at),
           "finished_local": local_text(job.finished_at), "error": job.error,
           "reason": failure.reason if failure else None, "detail": failure.detail if failure else None,
           "model_id": job.model_id, "model_version": model_version}
    if log:
        out["log"] = job.log
    return out


async def job_state(session: AsyncSession, job: NluTrainingJob, *, log: bool = True) -> dict[str, Any]:
    """The job with the version of the model it produced (the link to its evaluation)."""
    model = await session.get(NluModel, job.model_id) if job.model_id else None
    return job_dict(job, log=log, model_version=model.version if model is not None else None)
