"""Fixtures of the mayor's mailbox tests.

Everything is real except the gateway itself: a real Redis (127.0.0.1:6379, a unique key
prefix per test, every key deleted afterwards), a real AttachmentStore under tmp_path, the
SMTP server started in the test's own event loop on a free port and spoken to with the
standard library's ``smtplib`` in a thread, and an aiosmtpd sink acting as the outbound
relay.  The pipeline stand-in: ``publish`` XADDs the message JSON to a Redis stream under
the test prefix; a responder task reads that stream and writes the answer (with a ticket
number) under a reply key, which ``wait_reply`` polls.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import functools
import inspect
import os
import re
import smtplib
import ssl
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from aiosmtpd.smtp import SMTP
from redis.exceptions import RedisError

from connectors.base import InboundMessage, IntakeUnavailable
from connectors.email import bound_address, load_email_settings, start_smtp_server, stop_smtp_server
from connectors.email.replies import EmailConnector
from connectors.storage import AttachmentStore
from connectors.task_stop import cancel_and_wait

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
MAILBOX = "mayor@12345.pds.gov.cn"
HOSTNAME = "12345.pds.gov.cn"
CLIENT_THREADS = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="smtp-client")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Auto mode is the project's setting; the mark keeps these tests running under strict mode.
    here = str(Path(__file__).parent)
    for item in items:
        if str(getattr(item, "path", "")).startswith(here) and inspect.iscoroutinefunction(
            getattr(item, "function", None)
        ):
            item.add_marker(pytest.mark.asyncio)


# --------------------------------------------------------------------------- Redis and the stand-in pipeline


@pytest_asyncio.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=False)
    try:
        await client.ping()
    except Exception as exc:  # pragma: no cover - environment problem, not a test result
        pytest.fail(f"Redis at {REDIS_URL} is required: {exc!r}")
    yield client
    await client.aclose()


@pytest_asyncio.fixture
async def prefix(redis_client: aioredis.Redis) -> AsyncIterator[str]:
    p = f"test-email-{uuid.uuid4().hex[:12]}"
    yield p
    keys = [k async for k in redis_client.scan_iter(match=f"{p}:*", count=500)]
    if keys:
        await redis_client.delete(*keys)


class Intake:
    """A durable publish to a real Redis stream, and a reader for the assertions."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.stream = f"{prefix}:intake"
        self.prefix = prefix

    async def publish(self, message: InboundMessage) -> str:
        try:
            entry = await self.redis.xadd(self.stream, {"msg": message.to_json().encode()})
        except (RedisError, OSError) as exc:
            raise IntakeUnavailable(str(exc)) from exc
        return entry.decode()

    async def messages(self) -> list[InboundMessage]:
        rows = await self.redis.xrange(self.stream)
        return [InboundMessage.from_json(fields[b"msg"]) for _id, fields in rows]

    async def count(self) -> int:
        return int(await self.redis.xlen(self.stream))

    def reply_key(self, native_id: str) -> str:
        return f"{self.prefix}:reply:email:{native_id}"

    async def wait_reply(self, channel: str, native_id: str, timeout: float) -> str | None:
        deadline = asyncio.get_running_loop().time() + timeout
        key = f"{self.prefix}:reply:{channel}:{native_id}"
        while True:
            raw = await self.redis.get(key)
            if raw is not None:
                return raw.decode()
            if asyncio.get_running_loop().time() >= deadline:
                return None
            await asyncio.sleep(0.02)


@pytest_asyncio.fixture
async def intake(redis_client: aioredis.Redis, prefix: str) -> Intake:
    return Intake(redis_client, prefix)


@dataclass
class Responder:
    """Plays the pipeline: each stream entry gets a ticket number and a reply text."""

    intake: Intake
    tickets: dict[str, str] = field(default_factory=dict)
    task: asyncio.Task | None = None

    async def run(self) -> None:
        last = "0-0"
        seq = 0
        while True:
            rows = await self.intake.redis.xread({self.intake.stream: last}, block=100, count=50)
            for _stream, items in rows or []:
                for entry_id, fields in items:
                    last = entry_id
                    msg = InboundMessage.from_json(fields[b"msg"])
                    number = msg.metadata.get("ticket_no")
                    if not number:
                        seq += 1
                        number = f"PDS20261127{seq:05d}"
                    self.tickets[msg.native_id] = number
                    text = f"您的诉求已受理，工单编号：{number}。我们将在3个工作日内答复。"
                    await self.intake.redis.set(self.intake.reply_key(msg.native_id), text.encode(), ex=600)


@pytest_asyncio.fixture
async def responder(intake: Intake) -> AsyncIterator[Responder]:
    r = Responder(intake)
    r.task = asyncio.create_task(r.run())
    yield r
    await cancel_and_wait([r.task])


# --------------------------------------------------------------------------- the relay sink


@dataclass
class SinkMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.raw)  # type: ignore[return-value]


class SinkHandler:
    def __init__(self) -> None:
        self.mails: list[SinkMail] = []
        self.arrived = asyncio.Event()
        self.refuse: str | None = None  # e.g. "550 5.1.1 No such user"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.mails.append(SinkMail(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        self.arrived.set()
        return "250 OK"

    async def wait_for(self, n: int, timeout: float = 10.0) -> list[SinkMail]:
        async def _until() -> None:
            while len(self.mails) < n:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(_until(), timeout)
        return self.mails


@dataclass
class Sink:
    handler: SinkHandler
    server: asyncio.base_events.Server
    port: int

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=10"

    @property
    def mails(self) -> list[SinkMail]:
        return self.handler.mails


@pytest_asyncio.fixture
async def sink() -> AsyncIterator[Sink]:
    loop = asyncio.get_running_loop()
    handler = SinkHandler()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="relay.test", enable_SMTPUTF8=True, loop=loop), "127.0.0.1", 0
    )
    yield Sink(handler, server, server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()


# --------------------------------------------------------------------------- the mailbox under test


@dataclass
class Mailbox:
    server: asyncio.base_events.Server
    connector: EmailConnector
    host: str
    port: int
    intake: Intake
    store: AttachmentStore

    async def send(
        self,
        data: bytes | str,
        *,
        mail_from: str = "citizen@example.com",
        rcpt: list[str] | None = None,
        declare_size: bool = False,
        starttls: bool = False,
    ) -> tuple[int, str]:
        # The clients' own threads: blocking them in the loop's default executor would
        # starve the server, whose file writes run there.
        call = functools.partial(
            smtp_session, self.host, self.port, data, mail_from=mail_from, rcpt=rcpt or [MAILBOX],
            declare_size=declare_size, starttls=starttls,
        )
        return await asyncio.get_running_loop().run_in_executor(CLIENT_THREADS, call)


def crlf(data: bytes | str) -> bytes:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return re.sub(rb"\r?\n", b"\r\n", data)


def smtp_session(
    host: str,
    port: int,
    data: bytes | str,
    *,
    mail_from: str,
    rcpt: list[str],
    declare_size: bool = False,
    starttls: bool = False,
) -> tuple[int, str]:
    """One real SMTP transaction; returns the first refusal or the final DATA reply."""
    data = crlf(data)
    with smtplib.SMTP(host, port, timeout=60) as client:
        client.ehlo("client.test")
        if starttls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            client.starttls(context=ctx)
            client.ehlo("client.test")
        options = [f"SIZE={len(data)}"] if declare_size else []
        code, msg = client.mail(mail_from, options)
        if code != 250:
            return code, msg.decode("utf-8", "replace")
        accepted = 0
        refusal: tuple[int, bytes] | None = None
        for r in rcpt:
            code, msg = client.rcpt(r)
            if code == 250:
                accepted += 1
            elif refusal is None:
                refusal = (code, msg)
        if not accepted:
            assert refusal is not None
            return refusal[0], refusal[1].decode("utf-8", "replace")
        code, msg = client.data(data)
        return code, msg.decode("utf-8", "replace")


@pytest_asyncio.fixture
async def start_mailbox(redis_client: aioredis.Redis, prefix: str, intake: Intake, tmp_path: Path):
    """Factory: ``await start_mailbox(**settings_overrides, publish=..., redis=...)``."""
    started: list[tuple[Any, EmailConnector]] = []

    async def _start(*, publish=None, redis=None, wait_reply=None, **overrides: Any) -> Mailbox:
        values: dict[str, Any] = {"smtp_port": 0, "smtp_host": "127.0.0.1", "mailbox_addresses": MAILBOX,
                                  "hostname": HOSTNAME, "autoreply_wait_seconds": 5}
        values.update(overrides)
        settings = load_email_settings(**values)
        store = AttachmentStore(tmp_path / "var")
        server, connector = await start_smtp_server(
            settings,
            publish=publish or intake.publish,
            wait_reply=wait_reply or intake.wait_reply,
            attachments=store,
            redis=redis or redis_client,
            key_prefix=f"{prefix}:conn:email",
        )
        started.append((server, connector))
        host, port = bound_address(server)
        return Mailbox(server, connector, host, port, intake, store)

    yield _start
    for server, connector in started:
        await stop_smtp_server(server, connector, grace=2.0)


def make_mail(
    body: str = "市长您好：我家门口的路灯坏了一个月了，希望尽快修理。",
    *,
    subject: str = "路灯坏了",
    sender: str = "张三 <citizen@example.com>",
    message_id: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = MAILBOX
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@example.com>"
    msg["Date"] = "Thu, 27 Nov 2026 10:00:00 +0800"
    for k, v in (extra_headers or {}).items():
        msg[k] = v
    msg.set_content(body)
    return msg.as_bytes(policy=policy.SMTP)


@pytest.fixture
def tls_files(tmp_path):
    """A self-signed certificate and key (PEM files) for STARTTLS."""
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "12345.pds.gov.cn")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path
