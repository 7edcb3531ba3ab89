"""The mayor's mailbox plug-in: the SMTP server as a background service (``hotline smtp``, and
``hotline run``), and the reply side (receipts, operators' replies) in every process.

Always on: the mailbox address has a default; the relay for outgoing mail is optional
(without it replies wait in the outbox).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from connectors.base import Channel, ChannelContext, Publish
from connectors.email.replies import EmailConnector
from connectors.email.server import close_mailbox, serve_mailbox
from connectors.email.settings import EmailSettings, load_email_settings
from connectors.storage import AttachmentStore

CHANNEL = "email"


class EmailChannel(Channel):
    name = CHANNEL
    service = "smtp"

    def __init__(self, settings: EmailSettings, replies: EmailConnector, *, publish: Publish,
                 attachments: AttachmentStore) -> None:
        self.settings = settings
        self.replies = replies
        self.publish = publish
        self.attachments = attachments
        self.server: asyncio.Server | None = None  # while the SMTP service runs

    @classmethod
    def from_settings(cls, context: ChannelContext) -> EmailChannel:
        settings = load_email_settings()
        replies = EmailConnector(settings, wait_reply=context.wait_reply, redis=context.redis,
                                 key_prefix=context.key_prefix(CHANNEL))
        return cls(settings, replies, publish=context.publish, attachments=context.attachments)

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        self.server = await serve_mailbox(self.settings, publish=self.publish, attachments=self.attachments,
                                          connector=self.replies)
        try:
            yield
        finally:
            server, self.server = self.server, None
            await close_mailbox(server)

    def output(self) -> EmailConnector:
        return self.replies

    async def aclose(self) -> None:
        await self.replies.aclose()
