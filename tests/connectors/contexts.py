"""A :class:`ChannelContext` of recording fakes, for channel tests without the gateway."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import redis.asyncio as aioredis
from aiohttp import web

from config.directory import load_directory
from config.settings import load_settings
from connectors.base import (
    Admission,
    ChannelContext,
    ConversationEntry,
    DeliveryResult,
    InboundMessage,
    IntakeUnavailable,
    OnceKey,
)
from connectors.storage import AttachmentStore


@dataclass
class Recorder:
    published: list[InboundMessage] = field(default_factory=list)
    counted: list[tuple[str, ...]] = field(default_factory=list)
    rate_calls: list[tuple[str, int]] = field(default_factory=list)
    streams: list[str] = field(default_factory=list)
    conversation: list[ConversationEntry] = field(default_factory=list)
    allow: bool = True
    intake_down: bool = False

    def context(self, tmp_path: Path, **settings: object) -> ChannelContext:
        async def publish(message: InboundMessage) -> str:
            if self.intake_down:
                raise IntakeUnavailable("stream down")
            self.published.append(message)
            return f"{len(self.published)}-0"

        async def wait_reply(channel: str, native_id: str, timeout: float) -> str | None:
            return None

        async def report_delivery(channel: str, native_id: str, result: DeliveryResult) -> None:
            return None

        async def read_conversation(channel: str, sender_id: str, after_id: int) -> list[ConversationEntry]:
            return [e for e in self.conversation if e.id > after_id]

        async def allow_request(request: web.Request, scope: str, per_minute: int) -> bool:
            self.rate_calls.append((scope, per_minute))
            return self.allow

        async def publish_limited(request: web.Request, scope: str, per_minute: int, message: InboundMessage,
                                  once: OnceKey | None) -> Admission:
            if not await allow_request(request, scope, per_minute):
                return Admission(refused="rate_limited")
            return Admission(entry_id=await publish(message))

        async def live_events(request: web.Request, topic: str) -> web.StreamResponse:
            self.streams.append(topic)
            return web.Response(text=topic)

        return ChannelContext(
            settings=load_settings(HOTLINE_DATA_DIR=str(tmp_path), **settings),
            directory=load_directory(),
            publish=publish,
            wait_reply=wait_reply,
            report_delivery=report_delivery,
            redis=aioredis.Redis(),  # connects on first use only; these tests never use it
            key_prefix=lambda name: f"test:conn:{name}",
            attachments=AttachmentStore(tmp_path),
            read_conversation=read_conversation,
            allow_request=allow_request,
            publish_limited=publish_limited,
            count_accepted=lambda channel: self.counted.append(("accepted", channel)),
            count_rejected=lambda channel, reason: self.counted.append(("rejected", channel, reason)),
            live_events=live_events,
            session_topic=lambda sid: f"topic:{sid}",
        )


def entry(entry_id: int, author: str, text: str, *, author_name: str | None = None,
          ticket_no: str | None = None) -> ConversationEntry:
    return ConversationEntry(id=entry_id, author=author, author_name=author_name, text=text,
                             created_at=datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc), ticket_no=ticket_no)
