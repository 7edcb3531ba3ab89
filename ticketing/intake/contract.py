"""What the intake takes (a channel message and what the NLU made of it) and what it gives back.

The message side is a structural type: ``connectors.base.InboundMessage`` satisfies it without
the ticket store importing the connectors (ticketing imports only ``config``).  The members are
read-only properties so a frozen dataclass fits them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class IntakeContact(Protocol):
    """How to reach the citizen, as far as the channel knows it."""

    @property
    def name(self) -> str | None: ...

    @property
    def phone(self) -> str | None: ...

    @property
    def wechat_openid(self) -> str | None: ...

    @property
    def email(self) -> str | None: ...


@runtime_checkable
class IntakeAttachment(Protocol):
    """A file the connector already stored under the data directory."""

    @property
    def filename(self) -> str: ...

    @property
    def content_type(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def storage_key(self) -> str: ...

    @property
    def kind(self) -> str: ...


@runtime_checkable
class IntakeMessage(Protocol):
    """One citizen message of a channel, normalised by its connector."""

    @property
    def channel(self) -> str: ...

    @property
    def native_id(self) -> str:
        """The channel's own id of the message: the dedupe key."""

    @property
    def sender_id(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def received_at(self) -> datetime: ...

    @property
    def thread_key(self) -> str | None:
        """In-Reply-To, a ticket number the citizen named, …"""

    @property
    def subject(self) -> str | None: ...

    @property
    def contact(self) -> IntakeContact: ...

    @property
    def attachments(self) -> Sequence[IntakeAttachment]: ...

    @property
    def metadata(self) -> Mapping[str, Any]:
        """Channel facts: msg_type, title, force_ticket, region/request type hints, deadline, …"""


@dataclass(frozen=True)
class Classification:
    """The part of an NLU result the intake acts on (no NLU → all empty, handoff)."""

    handoff: bool = True
    department: str | None = None
    region: str | None = None
    request_type: str | None = None
    alternatives: tuple[dict[str, Any], ...] = ()
    # The request-type classifier's ranking ({"code", "confidence"}, `request_type` first), if it decided.
    request_type_alternatives: tuple[dict[str, Any], ...] = ()
    intent: str | None = None
    confidence: float | None = None
    emergency: dict[str, str] | None = None
    faq: dict[str, str] | None = None
    model: str | None = None
    # The two departments the NLU found too close to call (nlu/thresholds.py ``department_margin``).
    torn: tuple[str, ...] = ()

    @property
    def classified(self) -> bool:
        return bool(self.department or self.region or self.request_type)


@dataclass(frozen=True)
class Outcome:
    """What became of a message, and the bot's reply to send back (if any)."""

    kind: str  # ticket | followup | faq | emergency | duplicate | event
    reply: str | None
    ticket_no: str | None = None
    entry_id: int | None = None
    # The conversation's dialogue state to keep after the commit (``ticketing.intake.gathering``):
    # None leaves it as it was, {} ends it.
    dialogue: dict[str, Any] | None = None
    # The one-tap answers the web chat shows under the reply.
    quick_replies: tuple[str, ...] = ()
