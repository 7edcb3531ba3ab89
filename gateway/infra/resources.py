"""The long-lived resources every process shares, and their AppKeys.

Settings, the directory, the database, Redis, the intake stream, the reply bus, the NLU client,
metrics and the attachment store: what the web app, a worker, the mailbox and the feed poller
all need, and nothing any one of them alone needs.  Clients are created at once (none connects
before first use) so channels can be wired with them; a cleanup context closes them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from config.directory import Directory
from config.settings import Settings
from connectors.storage import AttachmentStore
from gateway.infra.keys import RedisKeys
from gateway.infra.live_streams import LIVE_STREAMS, LiveStreams
from gateway.infra.metrics import METRICS, Metrics
from gateway.infra.redis_client import connect, warn_unless_persistent
from gateway.infra.replies import REPLIES, ReplyBus
from gateway.infra.stream import STREAM, IntakeStream
from nlu.client import NluClient
from ticketing.accounts import passwords
from ticketing.db.engine import create_engine, session_factory

log = logging.getLogger(__name__)

PERSISTENCE_CHECK_SECONDS = 5.0

SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
DIRECTORY: web.AppKey[Directory] = web.AppKey("directory", Directory)
KEYS: web.AppKey[RedisKeys] = web.AppKey("redis_keys", RedisKeys)
REDIS: web.AppKey[aioredis.Redis] = web.AppKey("redis", aioredis.Redis)
ENGINE: web.AppKey[AsyncEngine] = web.AppKey("engine", AsyncEngine)
SESSIONS: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("sessions")
# Read-only queries that may lag the primary by seconds (the analytics pages): the replica of
# DATABASE_READ_URL when one is configured, else the very same sessions as SESSIONS.
READ_ENGINE: web.AppKey[AsyncEngine] = web.AppKey("read_engine", AsyncEngine)
READ_SESSIONS: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("read_sessions")
NLU: web.AppKey[NluClient] = web.AppKey("nlu", NluClient)
ATTACHMENTS: web.AppKey[AttachmentStore] = web.AppKey("attachments", AttachmentStore)
# The deployment's secret key (set by the web app): signs CSRF tokens, and the 一事一评 links the
# channels send, which is why it lives below both.
SECRET: web.AppKey[bytes] = web.AppKey("secret_key", bytes)


def make_nlu_client(settings: Settings, directory: Directory) -> NluClient:
    return NluClient(settings.rasa_url if settings.nlu_enabled else None, timeout=settings.nlu_timeout,
                     directory=directory)


def add_resources(app: web.Application, settings: Settings, *, redis_url: str, directory: Directory) -> None:
    """Put the shared resources on ``app`` and close them when it stops."""
    engine = create_engine(settings.effective_database_url)
    replica = settings.effective_read_database_url != settings.effective_database_url
    read_engine = create_engine(settings.effective_read_database_url, read_only=True) if replica else engine
    redis = connect(redis_url, max_connections=settings.redis_max_connections,
                    health_check_seconds=settings.redis_health_check_seconds)
    keys = RedisKeys(settings.redis_prefix)
    app[SETTINGS] = settings
    # The web process logs operators in, a service process may create users: both size the pool.
    passwords.configure(settings.password_threads, settings.password_queue)
    app[DIRECTORY] = directory
    app[KEYS] = keys
    app[METRICS] = Metrics()
    app[ATTACHMENTS] = AttachmentStore(settings.data_dir)
    app[ENGINE] = engine
    app[SESSIONS] = session_factory(engine)
    app[READ_ENGINE] = read_engine
    app[READ_SESSIONS] = session_factory(read_engine) if replica else app[SESSIONS]
    app[REDIS] = redis
    app[STREAM] = IntakeStream(redis, keys)
    app[REPLIES] = replies = ReplyBus(redis, keys)
    app[LIVE_STREAMS] = LiveStreams(per_client=settings.live_streams_per_client,
                                    total=settings.live_streams_total)
    app[NLU] = make_nlu_client(settings, directory)

    async def close(app: web.Application) -> AsyncIterator[None]:
        # Said at every start of every process: durability rests on Redis's append-only file.
        try:
            await asyncio.wait_for(warn_unless_persistent(redis), PERSISTENCE_CHECK_SECONDS)
        except TimeoutError:
            log.warning("Redis did not answer the persistence check in %ss", PERSISTENCE_CHECK_SECONDS)
        yield
        await replies.fanout.close()
        await app[NLU].close()
        await redis.aclose()
        await engine.dispose()
        if replica:
            await read_engine.dispose()

    app.cleanup_ctx.append(close)
