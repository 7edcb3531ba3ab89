"""The contract between channel connectors and the gateway (after Rasa's InputChannel/OutputChannel).

A channel turns raw input into one :class:`InboundMessage`, hands it to the ``publish`` callable
of its :class:`ChannelContext`, and acknowledges the outside world only after ``publish``
returned.  It never touches the database; replies come back to it through its output side
(:meth:`OutputChannel.send_reply`).  Each channel is one :class:`Channel` class, listed in
:mod:`connectors.registry`; the gateway wires them all in one loop.

The message types are standard library only, so a message can be serialised into a Redis
stream entry and read back by any worker; aiohttp and the gateway's types are named for type
checking only.
"""

from __future__ import annotations

import dataclasses
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self

import orjson

if TYPE_CHECKING:  # pragma: no cover
    from aiohttp import web

    from config.directory import Directory
    from config.settings import Settings
    from connectors.storage import AttachmentStore

CHANNELS = ("wechat", "web", "email", "national_platform", "phone", "letter", "open311")


class IntakeUnavailable(Exception):
    """The intake stream could not take the message; the sender must retry later."""


# C0 controls and DEL except tab and line feed (carriage returns become line feeds first).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


# Anything storable_text would change: one search, so clean text (nearly all of it) costs one scan.
_UNCLEAN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def storable_text(text: str) -> str:
    """``text`` without control characters (but tab and line breaks) and with lone surrogates
    replaced by U+FFFD: what the stream, the database and every reader can take."""
    if _UNCLEAN.search(text) is None:
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))


def storable(value: Any) -> Any:
    """``storable_text`` applied to every string in a JSON-like value (keys included)."""
    if isinstance(value, str):
        return storable_text(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value  # the common leaves, before the slower abstract-class checks below
    if isinstance(value, (dict, Mapping)):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(storable(item) for item in value)
    return value


@dataclass(frozen=True)
class AttachmentRef:
    """A file the connector already stored under the data directory."""

    filename: str
    content_type: str
    size: int
    storage_key: str  # path relative to HOTLINE_DATA_DIR/attachments, or a pack key (connectors.packs)
    kind: str = "file"  # file | image | voice | location | original_email


@dataclass(frozen=True)
class Contact:
    name: str | None = None
    phone: str | None = None
    wechat_openid: str | None = None
    email: str | None = None


_CONTACT_FIELDS = tuple(f.name for f in dataclasses.fields(Contact))


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
        # Every channel's input passes here before it is published, so this is where control
        # characters and lone surrogates go: PostgreSQL refuses NUL in text and JSON, and a
        # refused entry would be retried until it is dead-lettered.
        for name in ("native_id", "sender_id", "text", "thread_key", "subject", "metadata"):
            object.__setattr__(self, name, storable(getattr(self, name)))
        contact = self.contact
        cleaned = {name: storable(getattr(contact, name)) for name in _CONTACT_FIELDS}
        if any(cleaned[name] is not getattr(contact, name) for name in _CONTACT_FIELDS):
            object.__setattr__(self, "contact", dataclasses.replace(contact, **cleaned))
        if self.channel not in CHANNELS:
            raise ValueError(f"unknown channel {self.channel!r}")
        if not self.native_id or not self.sender_id:
            raise ValueError("native_id and sender_id are required")
        if self.received_at.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")

    def to_json(self) -> str:
        return self.to_json_bytes().decode()

    def to_json_bytes(self) -> bytes:
        """The stream entry's payload (built field by field: ``dataclasses.asdict`` deep-copies)."""
        contact = self.contact
        return orjson.dumps({
            "channel": self.channel, "native_id": self.native_id, "sender_id": self.sender_id, "text": self.text,
            "received_at": self.received_at.astimezone(timezone.utc).isoformat(), "thread_key": self.thread_key,
            "subject": self.subject,
            "contact": {"name": contact.name, "phone": contact.phone, "wechat_openid": contact.wechat_openid,
                        "email": contact.email},
            "attachments": [{"filename": a.filename, "content_type": a.content_type, "size": a.size,
                             "storage_key": a.storage_key, "kind": a.kind} for a in self.attachments],
            "metadata": dict(self.metadata),
        }, option=orjson.OPT_NON_STR_KEYS)

    @classmethod
    def from_json(cls, raw: str | bytes) -> InboundMessage:
        data = orjson.loads(raw)
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


class OutputChannel(Protocol):
    """What a channel's replies go through (``app[CONNECTORS][name]`` in the gateway)."""

    name: str

    async def send_reply(self, target: ReplyTarget, text: str) -> DeliveryResult:
        """Deliver an operator's or the bot's reply to the citizen."""
        ...


@dataclass(frozen=True)
class ConversationEntry:
    """One stored entry of a citizen's conversation, as the web chat shows it."""

    id: int
    author: str  # citizen | bot | operator | system
    author_name: str | None
    text: str
    created_at: datetime
    ticket_no: str | None
    # One-tap answers to the bot's question (the web chat's buttons; WeChat's text says 回复1…).
    quick_replies: tuple[str, ...] = ()


ReadConversation = Callable[[str, str, int], Awaitable[Sequence[ConversationEntry]]]
"""``read_conversation(channel, sender_id, after_id)``: the citizen-visible entries newer than
``after_id``, oldest first."""

@dataclass(frozen=True)
class OnceKey:
    """A retried message's first text: kept under ``key`` (its digest ``value``) for ``ttl`` s."""

    key: str
    value: str
    ttl: int


@dataclass(frozen=True)
class Admission:
    """What became of a rate-limited publish: the stream entry id, or why it was refused
    (``rate_limited``; ``reused``: a retried message id came with another text)."""

    entry_id: str | None = None
    refused: str | None = None


PublishLimited = Callable[["web.Request", str, int, InboundMessage, "OnceKey | None"], Awaitable[Admission]]
"""``publish_limited(request, scope, per_minute, message, once)``: the rate limit of
``allow_request``, the retried-text check of ``once``, and ``publish``, in one round trip to Redis.
Raises :class:`IntakeUnavailable` when the stream cannot take it."""

AllowRequest = Callable[["web.Request", str, int], Awaitable[bool]]
"""``allow_request(request, scope, per_minute)``: False once the request's client went over
``per_minute`` requests of ``scope`` in the current minute (shared by every gateway process)."""

LiveEvents = Callable[["web.Request", str], Awaitable["web.StreamResponse"]]
"""``live_events(request, topic)``: the gateway's server-sent-events stream of a reply-bus topic."""


@dataclass(frozen=True)
class ChannelContext:
    """Everything a channel gets from the gateway, as plain objects and callables.

    Channels import neither the gateway nor the ticket store: what they need of them is here.
    """

    settings: Settings  # the gateway's own settings (text limits, rate limits ...)
    directory: Directory
    publish: Publish
    wait_reply: WaitReply
    report_delivery: ReportDelivery
    redis: Any  # redis.asyncio.Redis, responses not decoded
    key_prefix: Callable[[str], str]  # key_prefix("wechat") → the namespace of that channel's own keys
    attachments: AttachmentStore
    # What the web chat needs on top: the stored conversation, rate limits, metrics, live events.
    read_conversation: ReadConversation
    allow_request: AllowRequest
    publish_limited: PublishLimited
    count_accepted: Callable[[str], None]  # count_accepted(channel)
    count_rejected: Callable[[str, str], None]  # count_rejected(channel, reason)
    live_events: LiveEvents
    session_topic: Callable[[str], str]  # session_topic(web session id) → its reply-bus topic


class Channel(ABC):
    """One channel plug-in: its settings decide whether it is on; it brings its HTTP routes,
    its background service and its output side.  The gateway adds the routes only in processes
    that serve HTTP and runs the service only in processes that run ``service``."""

    name: ClassVar[str]  # the InboundMessage.channel it produces
    # The process service that runs this channel's background work (``hotline smtp``: "smtp",
    # ``hotline feed``: "feed"), or None when it has none.
    service: ClassVar[str | None] = None

    @classmethod
    @abstractmethod
    def from_settings(cls, context: ChannelContext) -> Self | None:
        """The channel, or None when its settings leave it off (e.g. WECHAT_TOKEN unset).

        Raises a settings error naming the variable when a setting is invalid."""

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        """The HTTP endpoints the channel serves (none by default)."""
        return ()

    def serving(self) -> AbstractAsyncContextManager[None]:
        """The background service, running for as long as the context is entered."""
        raise NotImplementedError(f"the {self.name} channel has no background service")

    def output(self) -> OutputChannel | None:
        """Where replies to this channel's citizens go, or None when the gateway answers them itself."""
        return None

    async def aclose(self) -> None:
        """Release what the channel holds (thread pools, HTTP sessions, pending deliveries)."""
