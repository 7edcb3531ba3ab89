"""The mailbox under a connection flood: one client cannot lock other senders out.

Issue #12: one client with 100 idle connections locked every other sender out (421) for up to
300 s.  Real SMTP conversations (sockets and smtplib in threads) against the real aiosmtpd server;
the other sender comes from another loopback address (127.0.0.2).
"""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import socket
import time

from tests.connectors.email import conftest as mailbox_fixtures
from tests.connectors.email.conftest import MAILBOX, crlf, make_mail

# The mailbox tests' fixtures: a real Redis, the stand-in intake, the server on a free port.
redis_client = mailbox_fixtures.redis_client
prefix = mailbox_fixtures.prefix
intake = mailbox_fixtures.intake
start_mailbox = mailbox_fixtures.start_mailbox


def _open_idle(host: str, port: int, n: int, source: str = "127.0.0.1") -> tuple[list[socket.socket], list[str]]:
    """n connections that read the greeting and then say nothing."""
    socks, greetings = [], []
    for _ in range(n):
        sock = socket.create_connection((host, port), timeout=10, source_address=(source, 0))
        greetings.append(sock.recv(512).decode())
        socks.append(sock)
    return socks, greetings


def _close(socks: list[socket.socket]) -> None:
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.close()


def _send_from(source: str, host: str, port: int, text: str) -> int:
    with smtplib.SMTP(host, port, timeout=10, source_address=(source, 0)) as client:
        client.ehlo("other.example")
        client.mail("other@example.com")
        client.rcpt(MAILBOX)
        return client.data(crlf(make_mail(text)))[0]


async def test_one_client_hoarding_connections_does_not_lock_out_other_senders(start_mailbox, intake):
    box = await start_mailbox(max_sessions=20, max_sessions_per_client=5)
    socks, greetings = await asyncio.to_thread(_open_idle, box.host, box.port, 30)
    try:
        assert sum(g.startswith("220") for g in greetings) == 5
        refused = [g for g in greetings if not g.startswith("220")]
        assert len(refused) == 25 and all(g.startswith("421 4.7.0") and "address" in g for g in refused)
        assert await asyncio.to_thread(_send_from, "127.0.0.2", box.host, box.port, "另一位市民的来信") == 250
    finally:
        _close(socks)
    assert len(await intake.messages()) == 1


async def test_the_total_cap_still_holds_across_addresses(start_mailbox):
    box = await start_mailbox(max_sessions=4, max_sessions_per_client=2)
    held: list[socket.socket] = []
    try:
        for source in ("127.0.0.1", "127.0.0.3"):
            socks, greetings = await asyncio.to_thread(_open_idle, box.host, box.port, 2, source)
            held += socks
            assert all(g.startswith("220") for g in greetings)
        socks, greetings = await asyncio.to_thread(_open_idle, box.host, box.port, 1, "127.0.0.4")
        held += socks
        assert greetings[0].startswith("421 4.7.0 Too many connections, try again later")
    finally:
        _close(held)


async def test_an_idle_connection_before_data_is_closed_with_421_and_frees_its_slot(start_mailbox):
    box = await start_mailbox(max_sessions_per_client=1, command_timeout=0.5, session_timeout=60)

    def idle_then_read() -> tuple[str, float]:
        with socket.create_connection((box.host, box.port), timeout=10) as sock:
            assert sock.recv(512).startswith(b"220")
            sock.sendall(b"EHLO idle.example\r\n")
            time.sleep(0.1)
            sock.recv(4096)  # the EHLO answer
            started = time.monotonic()
            rest = b""
            while chunk := sock.recv(512):
                rest += chunk
            return rest.decode(), time.monotonic() - started

    said, waited = await asyncio.to_thread(idle_then_read)
    assert said.startswith("421 4.4.2") and waited < 5
    # The one slot of this address is free again.
    assert await asyncio.to_thread(_send_from, "127.0.0.1", box.host, box.port, "超时之后的来信") == 250


async def test_a_slow_data_transfer_gets_the_session_timeout_not_the_command_timeout(start_mailbox, intake):
    box = await start_mailbox(command_timeout=0.5, session_timeout=30)

    def slow_data() -> int:
        with smtplib.SMTP(box.host, box.port, timeout=10) as client:
            client.ehlo("slow.example")
            client.mail("slow@example.com")
            client.rcpt(MAILBOX)
            assert client.docmd("DATA")[0] == 354
            for line in crlf(make_mail("一封在慢速线路上传来的信")).split(b"\r\n"):
                client.send(line + b"\r\n")
                time.sleep(0.1)  # the whole transfer lasts several command timeouts
            client.send(b".\r\n")
            return client.getreply()[0]

    assert await asyncio.to_thread(slow_data) == 250
    assert len(await intake.messages()) == 1
