"""Every Redis key and aiohttp AppKey of the gateway, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:  # pragma: no cover
    import redis.asyncio as aioredis
    from prometheus_client import CollectorRegistry
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from config.directory import Directory
    from config.settings import Settings
    from connectors.storage import AttachmentStore
    from gateway.metrics import Metrics
    from gateway.replies import ReplyBus
    from gateway.stream import IntakeStream
    from nlu.client import NluClient


@dataclass(frozen=True)
class RedisKeys:
    prefix: str

    @property
    def intake(self) -> str:
        return f"{self.prefix}:intake"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}:intake:dead"

    group = "workers"

    def reply(self, channel: str, native_id: str) -> str:
        return f"{self.prefix}:reply:{channel}:{native_id}"

    @property
    def reply_ready(self) -> str:
        return f"{self.prefix}:reply-ready"

    def web_session(self, session_id: str) -> str:
        return f"{self.prefix}:web:session:{session_id}"

    @property
    def console_events(self) -> str:
        return f"{self.prefix}:console:events"

    def rate(self, scope: str, client: str, window: int) -> str:
        return f"{self.prefix}:rate:{scope}:{client}:{window}"

    # NLU administration (gateway/nlu_admin): the model every process's NluClient follows, the
    # training lock, the answers' version (reload on change), a training job's cancel flag.
    @property
    def nlu_active(self) -> str:
        return f"{self.prefix}:nlu:active"

    @property
    def nlu_train_lock(self) -> str:
        return f"{self.prefix}:nlu:train-lock"

    @property
    def nlu_activate_lock(self) -> str:
        return f"{self.prefix}:nlu:activate-lock"

    @property
    def nlu_answers_version(self) -> str:
        return f"{self.prefix}:nlu:answers-version"

    def nlu_job_cancel(self, job_id: int) -> str:
        return f"{self.prefix}:nlu:job:{job_id}:cancel"

    def connector(self, name: str) -> str:
        """Prefix a connector may use for its own private keys."""
        return f"{self.prefix}:conn:{name}"


SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
DIRECTORY: web.AppKey[Directory] = web.AppKey("directory")
KEYS: web.AppKey[RedisKeys] = web.AppKey("redis_keys", RedisKeys)
REDIS: web.AppKey[aioredis.Redis] = web.AppKey("redis")
ENGINE: web.AppKey[AsyncEngine] = web.AppKey("engine")
SESSIONS: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("sessions")
STREAM: web.AppKey[IntakeStream] = web.AppKey("stream")
REPLIES: web.AppKey[ReplyBus] = web.AppKey("replies")
NLU: web.AppKey[NluClient] = web.AppKey("nlu")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
ATTACHMENTS: web.AppKey[AttachmentStore] = web.AppKey("attachments")
CONNECTORS: web.AppKey[dict] = web.AppKey("connectors", dict)
# The Rasa server this process started itself (embedded mode: launcher or tests), so that model
# activation can run blue/green; absent with an external RASA_URL (activation uses PUT /model).
RASA_MANAGED: web.AppKey[object] = web.AppKey("rasa_managed")
