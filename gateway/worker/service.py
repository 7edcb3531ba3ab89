"""The intake worker as a background service of a process (``hotline worker``, or in-process)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from connectors.task_stop import end_within
from gateway.infra.metrics import METRICS
from gateway.infra.replies import REPLIES
from gateway.infra.resources import DIRECTORY, KEYS, NLU, SESSIONS, SETTINGS
from gateway.infra.stream import STREAM
from gateway.worker.background import SHUTDOWN_GRACE_SECONDS
from gateway.worker.consumer import Worker
from gateway.worker.pipeline import Pipeline

PIPELINE: web.AppKey[Pipeline] = web.AppKey("pipeline", Pipeline)
WORKER: web.AppKey[Worker] = web.AppKey("worker", Worker)
WORKER_TASK: web.AppKey[asyncio.Task] = web.AppKey("worker_task", asyncio.Task)


def add_pipeline(app: web.Application) -> None:
    """The pipeline alone (tests and tools process messages with it directly)."""
    settings = app[SETTINGS]
    app[PIPELINE] = pipeline = Pipeline(app[SESSIONS], app[REPLIES], app[DIRECTORY], app[METRICS],
                                        nlu=app[NLU] if settings.nlu_enabled else None, keys=app[KEYS])

    async def close_pipeline(_app: web.Application) -> None:
        await pipeline.aclose()  # its number connection (PostgreSQL)

    app.on_cleanup.append(close_pipeline)


def worker_ctx(consumer: str | None = None) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that runs one stream consumer for as long as the app runs."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        worker = Worker(
            app[STREAM], app[PIPELINE], app[METRICS], consumer=consumer or settings.worker_consumer,
            batch=settings.worker_batch, max_deliveries=settings.worker_max_deliveries,
            claim_idle_ms=settings.worker_claim_idle_ms,
        )
        stop = asyncio.Event()
        app[WORKER] = worker
        app[WORKER_TASK] = asyncio.create_task(worker.run(stop), name="intake-worker")
        yield
        stop.set()
        await end_within(app[WORKER_TASK], SHUTDOWN_GRACE_SECONDS)

    return ctx
