"""The mailbox's DATA phase answers and keeps exactly what aiosmtpd's own ``smtp_DATA`` does.

Two servers on loopback receive the same bytes: aiosmtpd's stock ``SMTP`` and the mailbox's
``HotlineSMTP`` (whose DATA reads in blocks, ``connectors/email/data_reader.py``), both with a
handler that keeps the envelope's content.  Small line and size limits make every path run:
blocks, blocks split into lines at a limit, lines past the stream's buffer, refusals.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP

from connectors.email.inbound import HotlineSMTP, MailboxHandler
from connectors.email.settings import load_email_settings
from connectors.storage import AttachmentStore

MAILBOX = "mayor@12345.pds.gov.cn"


class _Keep:
    """What both servers do with a mail: keep its content."""

    def __init__(self) -> None:
        self.contents: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        self.contents.append(envelope.original_content)
        return "250 OK"


class _KeepingMailbox(MailboxHandler):
    def __init__(self, tmp_path, keep: _Keep) -> None:
        settings = load_email_settings(smtp_port=0, smtp_host="127.0.0.1", mailbox_addresses=MAILBOX,
                                       hostname="12345.pds.gov.cn")

        async def publish(message: Any) -> str:
            raise AssertionError("nothing is published in these tests")

        super().__init__(settings, publish=publish, attachments=AttachmentStore(tmp_path / "var"),
                         connector=None)  # type: ignore[arg-type]  # the SMTP dialogue only
        self._keep = keep

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        return await self._keep.handle_DATA(server, session, envelope)


async def _servers(tmp_path, line_limit: int, size_limit: int):
    loop = asyncio.get_running_loop()
    stock_keep, box_keep = _Keep(), _Keep()
    mailbox = _KeepingMailbox(tmp_path, box_keep)

    class Stock(SMTP):
        line_length_limit = line_limit

    class Box(HotlineSMTP):
        line_length_limit = line_limit

    stock = await loop.create_server(lambda: Stock(stock_keep, data_size_limit=size_limit, loop=loop), "127.0.0.1", 0)
    box = await loop.create_server(lambda: Box(mailbox, data_size_limit=size_limit, loop=loop), "127.0.0.1", 0)
    return (stock, stock_keep), (box, box_keep)


async def _send(server: asyncio.Server, content: bytes, *, chunk: int) -> list[bytes]:
    """One session: the replies to DATA's content and to a NOOP after it (the session goes on)."""
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await reader.readline()
        writer.write(b"HELO client.test\r\n")
        await reader.readline()
        for command in (b"MAIL FROM:<citizen@example.com>", f"RCPT TO:<{MAILBOX}>".encode(), b"DATA"):
            writer.write(command + b"\r\n")
            await asyncio.wait_for(reader.readline(), 10)
        for start in range(0, len(content), chunk):  # in pieces, as TCP delivers them
            writer.write(content[start:start + chunk])
            await writer.drain()
        writer.write(b"NOOP\r\n")
        return [await asyncio.wait_for(reader.readline(), 10), await asyncio.wait_for(reader.readline(), 10)]
    finally:
        writer.close()
        await writer.wait_closed()


async def _compare(tmp_path, cases: list[bytes], *, line_limit: int, size_limit: int, chunk: int) -> None:
    (stock, stock_keep), (box, box_keep) = await _servers(tmp_path, line_limit, size_limit)
    try:
        for content in cases:
            expected = await _send(stock, content, chunk=chunk)
            got = await _send(box, content, chunk=chunk)
            assert got == expected, content
            if expected[0].startswith(b"250"):
                assert box_keep.contents[-1] == stock_keep.contents[-1], content
        assert len(box_keep.contents) == len(stock_keep.contents)
    finally:
        stock.close()
        box.close()


_PIECES = [b"a", b"\xe5\xb8\x82\xe6\xb0\x91", b".", b"..", b"\r", b"\n", b" ", b"end.", b"=2E", b"x" * 37]


def _line(rng: random.Random, longest: int) -> bytes:
    body = b"".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 6)))
    if rng.random() < 0.1:
        body = b"y" * rng.randint(longest - 8, longest + 8)  # around the line limit
    if rng.random() < 0.3:
        body = b"." + body  # dot-stuffed, or the start of a ".\r\n" look-alike
    body = body.replace(b"\r\n", b"\r_\n")
    return (b".." if body == b"." else body) + b"\r\n"  # a lone dot would end the mail early


def _cases(seed: int, n: int, *, line_limit: int, size_limit: int) -> list[bytes]:
    rng = random.Random(seed)
    cases = [b".\r\n", b"..\r\n.\r\n", b"one line.\r\n.\r\n", b"a\r\n.\r\n", b"\r\n.\r\n", b".x\r\n..\r\n.\r\n",
             b"dot at end of line.\r\nnext\r\n.\r\n", b"bare\n.\r\nstill inside\r\n.\r\n"]
    for length in range(line_limit - 3, line_limit + 5):  # lines just within and just past the limit
        cases += [b"y" * (length - 3) + b".\r\n.\r\n", b"a\r\n" + b"y" * (length - 2) + b"\r\n.\r\n"]
    for _ in range(n):
        lines = [_line(rng, line_limit) for _ in range(rng.randint(0, 40))]
        if rng.random() < 0.15:  # past the size limit
            lines += [b"z" * 60 + b"\r\n"] * (size_limit // 60 + 2)
        cases.append(b"".join(lines) + b".\r\n")
    return cases


async def test_small_limits_every_path(tmp_path):
    # A buffer of 120 bytes: most mails overrun it and finish line by line; lines near 120 bytes
    # are refused with 500 exactly when aiosmtpd refuses them.
    await _compare(tmp_path, _cases(1, 150, line_limit=120, size_limit=1500), line_limit=120, size_limit=1500,
                   chunk=97)


async def test_mails_within_the_buffer_are_read_in_blocks(tmp_path):
    await _compare(tmp_path, _cases(2, 150, line_limit=8192, size_limit=3000), line_limit=8192, size_limit=3000,
                   chunk=4096)


async def test_everything_arriving_one_byte_at_a_time(tmp_path):
    await _compare(tmp_path, _cases(3, 20, line_limit=200, size_limit=800), line_limit=200, size_limit=800, chunk=1)


async def test_help_still_describes_data(tmp_path):
    (stock, _), (box, _) = await _servers(tmp_path, 1001, 1000)
    try:
        port = box.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await reader.readline()
        writer.write(b"HELP DATA\r\nHELP\r\n")
        assert await reader.readline() == b"250 Syntax: DATA\r\n"
        assert b" DATA " in await reader.readline()
        writer.close()
        await writer.wait_closed()
    finally:
        stock.close()
        box.close()


async def test_lines_at_the_limit_of_mails_within_the_size_limit(tmp_path):
    await _compare(tmp_path, _cases(4, 60, line_limit=500, size_limit=100_000), line_limit=500, size_limit=100_000,
                   chunk=333)


async def test_the_mailbox_refuses_to_decode_mail_to_text(tmp_path):
    with pytest.raises(ValueError, match="decode_data"):
        HotlineSMTP(_KeepingMailbox(tmp_path, _Keep()), decode_data=True, loop=asyncio.get_running_loop())
