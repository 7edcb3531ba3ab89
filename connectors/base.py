"""The contract between channel connectors and the gateway.

A connector turns raw channel input into one :class:`InboundMessage`, hands it to the
``publish`` callable it was given, and acknowledges the outside world only after
``publish`` returned.  It never touches the database; replies come back to it through
:meth:`Connector.send_reply`.  Standard library only, so the message can be serialised
into a Redis stream entry and read back by any worker.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

CHANNELS = ("wechat", "web", "email", "national_platform", "phone", "letter")


class IntakeUnavailable(Exception):
    """The intake stream could not take the message; the sender must retry later."""


@dataclass(frozen=True)
class AttachmentRef:
    """A file the connector already stored under the data directory."""

    filename: str
    content_type: str
    size: int
    storage_key: str  # path relative to HOTLINE_DATA_DIR/attachments
    kind: str = "file"  # file | image | voice | location | original_email


@dataclass(frozen=True)
class Contact:
    name: str | None = None
    phone: str | None = None
    wechat_openid: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    channel: str
    native_id: str  # dedupe key: MsgId, Message-ID, feed item id, web message uuid
    sender_id: str  # openid, email address, web session id, platform citizen id
    text: str
    received_at: datetime
    thread_key: str | None = None  # In-Reply-To, ticket number named by the citizen, ...
    subject: str | None = None
    contact: Contact = field(default_factory=Contact)
    attachments: tuple[AttachmentRef, ...] = ()
    # Channel facts the pipeline may use: origin hotline, platform deadline, region hint,
    # message type ("text", "voice", "event:subscribe" ...).  Values must be JSON-able.
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"unknown channel {self.channel!r}")
        if not self.native_id or not self.sender_id:
            raise ValueError("native_id and sender_id are required")
        if self.received_at.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["received_at"] = self.received_at.astimezone(timezone.utc).isoformat()
        data["metadata"] = dict(self.metadata)
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | bytes) -> InboundMessage:
        data = json.loads(raw)
        data["received_at"] = datetime.fromisoformat(data["received_at"])
        data["contact"] = Contact(**data.get("contact") or {})
        data["attachments"] = tuple(AttachmentRef(**a) for a in data.get("attachments") or ())
        return cls(**data)


@dataclass(frozen=True)
class ReplyTarget:
    """Where a reply goes: the channel, the citizen's id on it, and the thread."""

    channel: str
    sender_id: str
    thread_key: str | None = None
    subject: str | None = None


@dataclass(frozen=True)
class DeliveryResult:
    delivered: bool
    detail: str = ""  # channel error code / reason when not delivered
    channel_message_id: str | None = None


Publish = Callable[[InboundMessage], Awaitable[str]]
"""Puts a message on the intake stream and returns the stream entry id.

Raises :class:`IntakeUnavailable` when the stream cannot take it."""

WaitReply = Callable[[str, str, float], Awaitable[str | None]]
"""``wait_reply(channel, native_id, timeout)``: the pipeline's reply text for a published
message, or ``None`` when it was not ready within ``timeout`` seconds."""


ReportDelivery = Callable[[str, str, DeliveryResult], Awaitable[None]]
"""``report_delivery(channel, native_id, result)``: how the bot's answer to the citizen's message
``native_id`` fared when the connector sent it later (e.g. a WeChat customer-service message
refused with 45015), so the gateway can record it where operators see it."""


class Connector(Protocol):
    name: str

    async def send_reply(self, target: ReplyTarget, text: str) -> DeliveryResult:
        """Deliver an operator's or the bot's reply to the citizen."""
        ...
