"""Real SMTP sessions against the mailbox: who may deliver, what 250/451/550/552 promise."""

from __future__ import annotations

import asyncio
import smtplib
import socket

import redis.asyncio as aioredis

from connectors.base import InboundMessage, IntakeUnavailable

from .conftest import HOSTNAME, MAILBOX, make_mail


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there any more
    return port


async def test_accepts_mail_and_publishes_it_before_250(start_mailbox, intake):
    box = await start_mailbox()
    raw = make_mail(
        "市长您好：新华区建设路的路灯坏了一个月了，晚上很黑。\n我的电话是 138 1234 5678。\n",
        message_id="<abc123@example.com>",
    )
    code, reply = await box.send(raw)
    assert code == 250, reply
    messages = await intake.messages()
    assert len(messages) == 1
    msg = messages[0]
    assert msg.channel == "email"
    assert msg.native_id == "abc123@example.com"
    assert msg.sender_id == "citizen@example.com"
    assert msg.subject == "路灯坏了"
    assert "路灯坏了一个月" in msg.text
    assert msg.contact.name == "张三"
    assert msg.contact.email == "citizen@example.com"
    assert msg.contact.phone == "13812345678"
    assert msg.thread_key is None
    assert msg.metadata["message_id"] == "abc123@example.com"
    assert msg.metadata["rcpt_to"] == [MAILBOX]
    # The original .eml is kept, with our trace headers in front of the untouched bytes.
    (original,) = [a for a in msg.attachments if a.kind == "original_email"]
    stored = box.store.read_bytes(original.storage_key)
    assert stored.startswith(b"Return-Path: <citizen@example.com>\r\nReceived: from client.test")
    assert stored.endswith(raw.replace(b"\r\n", b"\r\n"))
    # 250 carries the stream entry id it was given.
    assert reply.split()[-1] == (await intake.redis.xrange(intake.stream))[0][0].decode()


async def test_other_recipients_are_refused_never_relayed(start_mailbox, intake):
    box = await start_mailbox()
    others = (
        "someone@gmail.com", "mayor@other.gov.cn", "mayor@12345.pds.gov.cn.evil.com", "postmaster@12345.pds.gov.cn"
    )
    for rcpt in others:
        code, reply = await box.send(make_mail(), rcpt=[rcpt])
        assert code == 550, (rcpt, reply)
    assert await intake.count() == 0
    # Case-insensitive for our own address; a mixed envelope delivers only to us, once.
    code, _ = await box.send(make_mail(), rcpt=["MAYOR@12345.PDS.GOV.CN", "victim@gmail.com", MAILBOX])
    assert code == 250
    (msg,) = await intake.messages()
    assert msg.metadata["rcpt_to"] == ["mayor@12345.pds.gov.cn"]


async def test_several_mailbox_addresses(start_mailbox, intake):
    box = await start_mailbox(mailbox_addresses="mayor@12345.pds.gov.cn, 12345@pds.gov.cn")
    code, _ = await box.send(make_mail(), rcpt=["12345@pds.gov.cn"])
    assert code == 250
    code, _ = await box.send(make_mail(), rcpt=["mayor@pds.gov.cn"])
    assert code == 550
    assert await intake.count() == 1


async def test_size_limit_declared_and_actual(start_mailbox, intake):
    box = await start_mailbox(max_bytes=50_000)
    big = make_mail("很长的来信。" * 20_000)
    assert len(big) > 50_000

    # EHLO announces the limit.
    def ehlo() -> dict:
        with smtplib.SMTP(box.host, box.port, timeout=10) as c:
            c.ehlo("client.test")
            return c.esmtp_features

    features = await asyncio.to_thread(ehlo)
    assert features["size"] == "50000"
    # Declared in MAIL FROM: refused before any data is sent.
    code, reply = await box.send(big, declare_size=True)
    assert code == 552, reply
    # Not declared: refused at the end of DATA.
    code, reply = await box.send(big)
    assert code == 552, reply
    assert await intake.count() == 0
    # A mail under the limit on the same server is fine.
    code, _ = await box.send(make_mail(), declare_size=True)
    assert code == 250
    assert await intake.count() == 1


async def test_451_when_publish_raises_intake_unavailable(start_mailbox, intake):
    calls = []

    async def failing_publish(message: InboundMessage) -> str:
        calls.append(message)
        raise IntakeUnavailable("stream down")

    box = await start_mailbox(publish=failing_publish)
    code, reply = await box.send(make_mail())
    assert code == 451, reply
    assert len(calls) == 1
    assert box.connector.auto_reply_outcomes == {}  # no receipt for a mail we did not take


async def test_451_when_redis_is_really_unreachable(start_mailbox, intake, prefix):
    dead = aioredis.Redis.from_url(f"redis://127.0.0.1:{_closed_port()}/0", socket_connect_timeout=1)
    try:
        from .conftest import Intake

        dead_intake = Intake(dead, prefix)
        box = await start_mailbox(publish=dead_intake.publish, redis=dead)
        code, reply = await box.send(make_mail())
        assert code == 451, reply
        # The server is still there and takes mail once the stream is back.
        box2 = await start_mailbox()
        code, _ = await box2.send(make_mail())
        assert code == 250
        assert await intake.count() == 1
    finally:
        await dead.aclose()


async def test_451_when_storage_fails(start_mailbox, intake, tmp_path):
    box = await start_mailbox()
    # A file where the attachments folder should be: every save fails with an OSError.
    box.store.root = tmp_path / "not-a-dir" / "attachments"
    (tmp_path / "not-a-dir").write_bytes(b"")
    code, reply = await box.send(make_mail())
    assert code == 451, reply
    assert await intake.count() == 0


async def test_relay_attempt_without_mail_from_and_bad_sequences(start_mailbox, intake):
    box = await start_mailbox()

    def session() -> list[int]:
        codes = []
        with smtplib.SMTP(box.host, box.port, timeout=10) as c:
            c.ehlo("client.test")
            codes.append(c.rcpt(MAILBOX)[0])  # RCPT before MAIL
            codes.append(c.docmd("DATA")[0])  # DATA before RCPT
            codes.append(c.docmd("MAIL FROM:<a@b.c> SIZE=abc")[0])
            codes.append(c.docmd("NOOP")[0])
        return codes

    codes = await asyncio.to_thread(session)
    assert codes[0] == 503 and codes[1] == 503 and codes[2] == 501 and codes[3] == 250
    assert await intake.count() == 0


async def test_many_concurrent_sessions_each_publish_once(start_mailbox, intake):
    box = await start_mailbox()
    results = await asyncio.gather(*(box.send(make_mail(f"第{i}封来信：小区垃圾清运不及时。")) for i in range(12)))
    assert all(code == 250 for code, _ in results)
    messages = await intake.messages()
    assert len(messages) == 12
    assert len({m.native_id for m in messages}) == 12


async def test_null_return_path_is_accepted(start_mailbox, intake):
    box = await start_mailbox()
    code, _ = await box.send(make_mail(), mail_from="")
    assert code == 250
    (msg,) = await intake.messages()
    assert msg.metadata["mail_from"] == ""
    assert msg.metadata["auto_reply"] == "suppressed:null-return-path"


async def test_too_many_sessions_get_421(start_mailbox, intake):
    box = await start_mailbox(max_sessions=1)

    def hold_one_and_try_another() -> tuple[int, int]:
        with smtplib.SMTP(box.host, box.port, timeout=10) as first:
            first.ehlo("client.test")
            try:
                second = smtplib.SMTP(box.host, box.port, timeout=10)
            except smtplib.SMTPConnectError as exc:
                refused = exc.smtp_code
            else:  # pragma: no cover - would be the bug under test
                second.close()
                refused = 220
            return first.noop()[0], refused

    still_ok, refused = await asyncio.to_thread(hold_one_and_try_another)
    assert (still_ok, refused) == (250, 421)
    code, _ = await box.send(make_mail())  # the slot is free again
    assert code == 250


async def test_client_hanging_up_during_publish_does_not_cut_it(start_mailbox, intake):
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_publish(message: InboundMessage) -> str:
        started.set()
        await release.wait()
        return await intake.publish(message)

    box = await start_mailbox(publish=slow_publish)
    reader, writer = await asyncio.open_connection(box.host, box.port)
    for line in (b"EHLO client.test", b"MAIL FROM:<citizen@example.com>", f"RCPT TO:<{MAILBOX}>".encode(), b"DATA"):
        writer.write(line + b"\r\n")
    writer.write(make_mail() + b"\r\n.\r\n")
    await writer.drain()
    await asyncio.wait_for(started.wait(), 10)
    writer.close()  # gone before the 250
    await writer.wait_closed()
    await asyncio.sleep(0.1)
    release.set()
    for _ in range(100):
        if await intake.count():
            break
        await asyncio.sleep(0.02)
    assert await intake.count() == 1  # published whole; the sender's retry is deduplicated by Message-ID


async def test_byte_budget_lets_small_mails_overlap_and_big_ones_take_turns():
    from connectors.email.inbound import ByteBudget

    budget = ByteBudget(100)
    order: list[str] = []

    async def job(name: str, size: int, hold: float) -> None:
        async with budget.reserve(size):
            order.append(f"+{name}")
            await asyncio.sleep(hold)
            order.append(f"-{name}")

    await asyncio.gather(job("a", 40, 0.05), job("b", 40, 0.05), job("big", 500, 0.01))
    assert order[:2] == ["+a", "+b"]  # small ones together
    assert order.index("+big") > order.index("-b")  # the big one alone, after them
    assert budget.used == 0


async def test_byte_budget_serves_in_arrival_order_so_a_big_mail_is_not_starved():
    from connectors.email.inbound import ByteBudget

    budget = ByteBudget(100)
    order: list[str] = []
    release_first = asyncio.Event()

    async def job(name: str, size: int, until: asyncio.Event | None = None) -> None:
        async with budget.reserve(size):
            order.append(name)
            if until is not None:
                await until.wait()

    first = asyncio.ensure_future(job("first", 60, release_first))
    await asyncio.sleep(0)
    big = asyncio.ensure_future(job("big", 90))
    await asyncio.sleep(0)
    small = asyncio.ensure_future(job("small", 30))  # would fit beside "first", but "big" came before it
    await asyncio.sleep(0.01)
    assert order == ["first"]
    release_first.set()
    await asyncio.gather(first, big, small)
    assert order == ["first", "big", "small"]
    assert budget.used == 0


async def test_byte_budget_a_cancelled_waiter_holds_nothing_and_blocks_nobody():
    from connectors.email.inbound import ByteBudget

    budget = ByteBudget(100)
    holder_done = asyncio.Event()

    async def hold() -> None:
        async with budget.reserve(80):
            await holder_done.wait()

    async def take(size: int) -> None:
        async with budget.reserve(size):
            pass

    holder = asyncio.ensure_future(hold())
    await asyncio.sleep(0)
    waiting_big = asyncio.ensure_future(take(50))  # does not fit beside the 80
    await asyncio.sleep(0)
    behind = asyncio.ensure_future(take(10))  # fits, but queues behind the big one
    await asyncio.sleep(0.01)
    assert not behind.done()
    waiting_big.cancel()
    await asyncio.wait_for(behind, 1)  # the queue moved on once the big one left it
    holder_done.set()
    await holder
    assert waiting_big.cancelled()
    assert budget.used == 0

    # Granted and cancelled in the same tick: what it was granted comes back.
    holder_done.clear()
    holder = asyncio.ensure_future(hold())
    await asyncio.sleep(0)
    granted_late = asyncio.ensure_future(take(50))
    await asyncio.sleep(0)
    holder_done.set()
    await holder  # its release grants the waiter ...
    granted_late.cancel()  # ... which is cancelled before it runs
    await asyncio.gather(granted_late, return_exceptions=True)
    assert budget.used == 0


async def test_multi_line_reply_leaves_in_one_write(start_mailbox, intake):
    box = await start_mailbox()
    reader, writer = await asyncio.open_connection(box.host, box.port)
    try:
        greeting = await asyncio.wait_for(reader.readline(), 10)
        assert greeting.startswith(b"220 ")
        (session,) = box.server._hotline_handler.sessions
        writes: list[bytes] = []
        real_write = session.transport.write

        def counted_write(data: bytes) -> None:  # the real transport, its writes counted
            writes.append(bytes(data))
            real_write(data)

        session.transport.write = counted_write
        writer.write(b"EHLO client.test\r\n")
        lines = []
        while not (lines and lines[-1][3:4] == b" "):
            lines.append(await asyncio.wait_for(reader.readline(), 10))
        assert lines[0] == f"250-{HOSTNAME}\r\n".encode()
        assert b"250-8BITMIME\r\n" in lines and b"250-SMTPUTF8\r\n" in lines
        assert lines[-1] == b"250 HELP\r\n"
        assert writes == [b"".join(lines)]  # six lines, one send

        for command in (b"MAIL FROM:<citizen@example.com>", f"RCPT TO:<{MAILBOX}>".encode(), b"DATA"):
            writer.write(command + b"\r\n")
            reply = await asyncio.wait_for(reader.readline(), 10)
            assert reply[:3] in (b"250", b"354")
        writer.write(make_mail() + b"\r\n.\r\n")
        assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"250 2.0.0 OK queued as ")
        writer.write(b"QUIT\r\n")
        assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"221")
    finally:
        writer.close()
    assert await intake.count() == 1
