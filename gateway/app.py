"""The aiohttp application factory: wires settings, stores, the stream and the routes.

Long-lived resources and background services are ``cleanup_ctx`` generators, so they
start with the app and stop cleanly with it; nothing lives at module level.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection

from aiohttp import web

from config.directory import Directory, load_directory
from config.settings import Settings
from connectors.storage import AttachmentStore
from gateway import keys as K
from gateway.api import admin, health, nlu, progress, web_chat
from gateway.api.errors import json_errors
from gateway.channels import national_feed_ctx, setup_channels, smtp_ctx
from gateway.citizen import setup_citizen
from gateway.console import setup_console
from gateway.metrics import Metrics
from gateway.nlu_admin import setup_nlu_admin
from gateway.openapi import setup_openapi
from gateway.pipeline import Pipeline
from gateway.redis_conn import connect
from gateway.replies import ReplyBus
from gateway.security import SECRET, resolve_secret_key, security_headers
from gateway.stream import IntakeStream
from gateway.templating import setup_templates
from gateway.worker import Worker
from ticketing.db import create_engine, session_factory

log = logging.getLogger(__name__)

WORKER_TASK: web.AppKey[asyncio.Task] = web.AppKey("worker_task", asyncio.Task)
PIPELINE: web.AppKey[Pipeline] = web.AppKey("pipeline", Pipeline)
WORKER: web.AppKey[Worker] = web.AppKey("worker", Worker)


def make_nlu_client(settings: Settings, directory: Directory):
    from nlu.client import NluClient

    return NluClient(settings.rasa_url if settings.nlu_enabled else None, timeout=settings.nlu_timeout,
                     directory=directory)


def _wire_resources(app: web.Application, settings: Settings, redis_url: str, directory: Directory) -> None:
    """Clients are created now (none connects before first use) so connectors can be wired
    with them; a cleanup context closes them when the app stops."""
    engine = create_engine(settings.effective_database_url)
    redis = connect(redis_url)
    app[K.ENGINE] = engine
    app[K.SESSIONS] = session_factory(engine)
    app[K.REDIS] = redis
    app[K.STREAM] = IntakeStream(redis, app[K.KEYS])
    app[K.REPLIES] = ReplyBus(redis, app[K.KEYS])
    app[K.NLU] = make_nlu_client(settings, directory)
    app[PIPELINE] = Pipeline(app[K.SESSIONS], app[K.REPLIES], app[K.KEYS], directory, app[K.METRICS],
                             nlu=app[K.NLU] if settings.nlu_enabled else None)

    async def close(app: web.Application) -> AsyncIterator[None]:
        yield
        await app[K.NLU].close()
        await redis.aclose()
        await engine.dispose()

    app.cleanup_ctx.append(close)


def _worker(settings: Settings, consumer: str | None):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        worker = Worker(
            app[K.STREAM], app[PIPELINE], app[K.METRICS], consumer=consumer or settings.worker_consumer, batch=settings.worker_batch,
            max_deliveries=settings.worker_max_deliveries, claim_idle_ms=settings.worker_claim_idle_ms,
        )
        stop = asyncio.Event()
        app[WORKER] = worker
        app[WORKER_TASK] = asyncio.create_task(worker.run(stop), name="intake-worker")
        yield
        stop.set()
        try:
            await asyncio.wait_for(app[WORKER_TASK], timeout=10)
        except TimeoutError:
            app[WORKER_TASK].cancel()

    return ctx


def create_app(
    settings: Settings,
    *,
    redis_url: str,
    run_worker: bool = False,
    services: Collection[str] = (),
    consumer: str | None = None,
    directory: Directory | None = None,
) -> web.Application:
    """The gateway app.  ``services`` picks the background services this process runs:
    ``worker`` (stream consumer; also ``run_worker=True``), ``feed`` (national platform poller),
    ``smtp`` (the mayor's mailbox server)."""
    directory = directory or load_directory()
    app = web.Application(middlewares=[security_headers, json_errors], client_max_size=25 * 1024 * 1024)
    app[K.SETTINGS] = settings
    app[SECRET] = resolve_secret_key(settings)
    app[K.DIRECTORY] = directory
    app[K.KEYS] = K.RedisKeys(settings.redis_prefix)
    app[K.METRICS] = Metrics()
    app[K.ATTACHMENTS] = AttachmentStore(settings.data_dir)
    app[K.CONNECTORS] = {}
    _wire_resources(app, settings, redis_url, directory)
    if run_worker or "worker" in services:
        app.cleanup_ctx.append(_worker(settings, consumer))
    app.cleanup_ctx.append(national_feed_ctx(poll="feed" in services))
    app.cleanup_ctx.append(smtp_ctx(serve="smtp" in services))
    setup_channels(app)
    for module in (web_chat, progress, health, admin, nlu):
        app.router.add_routes(module.routes)
    setup_console(app)
    setup_nlu_admin(app)
    setup_openapi(app)
    setup_templates(app)
    setup_citizen(app)
    return app
