"""A PostgreSQL outage under load: nothing dead-lettered, the backlog drained soon after recovery.

Issue #12: a 14-second outage took 668 s to drain (1,378 entries pending, reclaimed 16 per 15 s).

The database is taken away by a TCP proxy this test controls, in front of the shared server:
"down" cuts every open connection and refuses new ones (what a stopped or killed PostgreSQL
looks like to its clients), "up" listens again.  That never stops the server other people use;
bench/faults.py does the real kill -9 and fast restart.  The embedded backend (SQLite, a file
in the process) has no outage of this kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from connectors.base import Contact, InboundMessage
from gateway.infra.resources import SESSIONS
from gateway.infra.stream import STREAM
from ticketing.db.models.tickets import Ticket

RATE = 30  # messages per second, as a busy hour of the city would send
BEFORE, OUTAGE = 3.0, 15.0
DRAIN_BUDGET = 30.0


class DatabaseProxy:
    """127.0.0.1:<port> → the real server, with a switch."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.Task] = set()

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()
        self.server = None
        for pipe in list(self.pipes):
            pipe.cancel()
        await asyncio.gather(*self.pipes, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.pipes.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            self.pipes.discard(task)
            return
        try:
            await asyncio.gather(_copy(reader, up_writer), _copy(up_reader, writer))
        except (asyncio.CancelledError, OSError):
            pass
        finally:
            writer.transport.abort()  # a reset, as when the server process dies
            up_writer.transport.abort()
            self.pipes.discard(task)


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    with contextlib.suppress(OSError):
        writer.write_eof()


def _message(i: int) -> InboundMessage:
    return InboundMessage(channel="web", native_id=uuid.uuid4().hex, sender_id="s" + uuid.uuid4().hex,
                          text=f"第{i}条：小区路灯不亮", received_at=datetime.now(timezone.utc),
                          contact=Contact(phone="13900001111"))


async def _publish_for(stream, seconds: float, start: int) -> int:
    sent, started = 0, time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        due = int(elapsed * RATE) - sent
        for _ in range(due):
            await stream.publish(_message(start + sent))
            sent += 1
        await asyncio.sleep(0.02)
    return sent


@pytest.fixture
async def proxy(stack):
    if stack.backend != "server":
        pytest.skip("an outage of a PostgreSQL server; SQLite is a file inside the process")
    proxy = DatabaseProxy("127.0.0.1", int(stack.database_url.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]))
    await proxy.up()
    yield proxy
    if proxy.server is not None:
        await proxy.down()


async def test_a_15_second_database_outage_under_load_drains_within_30_seconds(make_client, stack, proxy):
    host_port = stack.database_url.split("@", 1)[1].split("/", 1)[0]
    url = stack.database_url.replace(f"@{host_port}/", f"@127.0.0.1:{proxy.port}/")
    # The production claim idle time: recovery must not wait on XAUTOCLAIM.
    client = await make_client(DATABASE_URL=url, HOTLINE_CLAIM_IDLE_MS=30_000)
    app = client.app
    stream = app[STREAM]
    await stream.ensure_group()

    sent = await _publish_for(stream, BEFORE, 0)
    await proxy.down()
    sent += await _publish_for(stream, OUTAGE, sent)
    backlog = await stream.backlog()
    await proxy.up()
    recovered = time.monotonic()

    async def drained() -> bool:
        with contextlib.suppress(Exception):
            async with app[SESSIONS]() as session:
                made = (await session.execute(select(func.count(Ticket.id)))).scalar()
            return made == sent and (await stream.backlog())["pending"] == 0
        return False

    while not await drained():
        assert time.monotonic() - recovered < DRAIN_BUDGET, (
            f"not drained {DRAIN_BUDGET:.0f} s after recovery; backlog at recovery {backlog}, now "
            f"{await stream.backlog()}")
        await asyncio.sleep(0.2)
    drain_seconds = time.monotonic() - recovered
    assert await stream.dead_letters() == []
    assert sent >= RATE * (BEFORE + OUTAGE) * 0.8
    print(f"sent {sent}, backlog at recovery {backlog}, drained in {drain_seconds:.1f} s")
