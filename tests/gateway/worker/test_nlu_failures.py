"""The NLU absent, slow or failing never loses a message; a killed worker's entry is reclaimed."""

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from aiohttp import web
from sqlalchemy import func, select

from gateway.infra.metrics import METRICS
from gateway.infra.resources import REDIS, SESSIONS
from gateway.infra.stream import STREAM
from gateway.worker.consumer import Worker
from gateway.worker.service import PIPELINE
from tests.gateway.conftest import eventually
from ticketing.db.models.tickets import Entry, Ticket

REPO = Path(__file__).resolve().parents[3]


async def _post(client, text):
    session_id = "s" + uuid.uuid4().hex
    resp = await client.post("/api/v1/web/messages", json={"session_id": session_id, "text": text})
    assert resp.status == 202
    return session_id


async def _bot_reply(client, session_id):
    async def reply():
        msgs = (await (await client.get(f"/api/v1/web/sessions/{session_id}/messages")).json())["messages"]
        return next((m for m in msgs if m["author"] == "bot"), None)

    return await eventually(reply, timeout=15)


async def _only_ticket(app):
    async with app[SESSIONS]() as session:
        return (await session.execute(select(Ticket))).scalar_one()


async def test_nlu_down_still_makes_an_unclassified_ticket(make_client):
    client = await make_client(HOTLINE_NLU_ENABLED=True, RASA_URL="http://127.0.0.1:1")
    reply = await _bot_reply(client, await _post(client, "叶县昆阳镇的自来水发黄，能不能管管"))
    ticket = await _only_ticket(client.app)
    assert reply["ticket_no"] == ticket.number
    assert ticket.status == "pending_review" and ticket.classification == "unclassified"
    assert ticket.department is None


async def _hanging_rasa(aiohttp_server, delay: float):
    async def parse(request):
        await asyncio.sleep(delay)
        return web.json_response({})

    async def status(request):
        return web.json_response({"model_file": "models/x.tar.gz"})

    app = web.Application()
    app.router.add_post("/model/parse", parse)
    app.router.add_get("/status", status)
    return await aiohttp_server(app)


async def test_slow_nlu_times_out_into_the_human_queue(make_client, aiohttp_server):
    slow = await _hanging_rasa(aiohttp_server, delay=30)
    client = await make_client(HOTLINE_NLU_ENABLED=True, RASA_URL=str(slow.make_url("")),
                               HOTLINE_NLU_TIMEOUT=0.5)
    started = asyncio.get_running_loop().time()
    await _bot_reply(client, await _post(client, "社保卡丢了怎么补办"))
    assert asyncio.get_running_loop().time() - started < 10
    assert (await _only_ticket(client.app)).classification == "unclassified"


async def test_emergency_safety_net_works_without_the_nlu_server(make_client):
    client = await make_client(HOTLINE_NLU_ENABLED=True, RASA_URL="http://127.0.0.1:1")
    reply = await _bot_reply(client, await _post(client, "救命！我家楼下着火了，烟很大"))
    assert "119" in reply["text"]
    ticket = await _only_ticket(client.app)
    assert ticket.urgent is True and reply["ticket_no"] == ticket.number


async def test_a_worker_process_killed_mid_message_is_recovered_exactly_once(stack, make_client, aiohttp_server):
    # The NLU hangs, so the worker process is caught between read and ack when we kill it.
    hanging = await _hanging_rasa(aiohttp_server, delay=120)
    client = await make_client(run_worker=False)
    app = client.app
    stream = app[STREAM]
    await stream.ensure_group()
    env = dict(os.environ, DATABASE_URL=stack.database_url, REDIS_URL=stack.redis_url,
               HOTLINE_REDIS_PREFIX=stack.prefix, HOTLINE_DATA_DIR=str(stack.data_dir),
               RASA_URL=str(hanging.make_url("")).rstrip("/"), HOTLINE_NLU_TIMEOUT="60",
               HOTLINE_NLU_ENABLED="true")
    proc = subprocess.Popen([sys.executable, "-m", "gateway.runtime.cli", "worker", "--consumer", "doomed"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await _post(client, "湛河区马庄桥附近的下水道堵了")

        async def pending_at_doomed():
            info = await app[REDIS].xpending(app[STREAM].key, app[STREAM].group)
            return info["pending"] == 1 and any(c["name"] == b"doomed" for c in info["consumers"])

        await eventually(pending_at_doomed, timeout=30)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    async with app[SESSIONS]() as session:
        assert (await session.execute(select(func.count(Ticket.id)))).scalar() == 0

    survivor = Worker(stream, app[PIPELINE], app[METRICS], consumer="survivor", claim_idle_ms=300, block_ms=100)
    await asyncio.sleep(0.4)
    assert await survivor.reclaim_once() == 1
    assert await survivor.reclaim_once() == 0
    async with app[SESSIONS]() as session:
        assert (await session.execute(select(func.count(Ticket.id)))).scalar() == 1
        assert (await session.execute(select(func.count(Entry.id)).where(Entry.author == "citizen"))).scalar() == 1
    assert (await stream.backlog())["pending"] == 0
