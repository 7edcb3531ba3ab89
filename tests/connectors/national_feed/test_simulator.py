"""The simulator on its own: demo data, control endpoints, serve() and main()."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
import pytest

from connectors.national_feed.client import NationalPlatformClient
from connectors.national_feed.simulator import DEMO_APP_KEY, DEMO_APP_SECRET, demo_items, main, serve

from .conftest import APP_KEY, APP_SECRET, closed_port, make_item

ROOT = Path(__file__).resolve().parents[3]


def test_demo_items_are_varied_and_valid(directory):
    from connectors.national_feed.inbound import item_to_message

    items = demo_items()
    assert len(items) == 10
    assert len({i["id"] for i in items}) == 10
    assert len({i["type"] for i in items}) >= 6
    assert all("平顶山" in i["division_name"] or i["division_code"] for i in items)
    messages = [item_to_message(i, directory) for i in items]
    assert all(m.metadata["region_hint"] for m in messages)
    assert all(m.metadata["request_type_hint"] for m in messages)
    assert any(m.sender_id.startswith("item:") for m in messages)  # one anonymous report
    # more than the templates: fresh ids
    many = demo_items(30)
    assert len({i["id"] for i in many}) == 30


async def test_control_endpoints(sim, client):
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{sim.url}/_sim/items", json=[make_item(1), make_item(2)]) as r:
            assert (await r.json()) == {"items": 2}
        async with s.post(f"{sim.url}/_sim/fail-write-backs", json={"count": 1}) as r:
            assert r.status == 200
        async with s.post(f"{sim.url}/_sim/fail-fetches", json={"count": -1}) as r:
            assert r.status == 400 and (await r.json())["error"]["code"] == "INVALID_PARAMETER"
        async with s.get(f"{sim.url}/") as r:
            assert "模拟器" in await r.text()
    assert (await client.write_back("GJ20240506000001", "answered", "答复。", datetime.now(timezone.utc))).delivered
    async with aiohttp.ClientSession() as s, s.get(f"{sim.url}/_sim/state") as r:
        state = await r.json()
    assert state["items"] == 2 and state["write_back_attempts"] == 2 and len(state["write_backs"]) == 1


async def test_serve_until_stopped(directory):
    port = closed_port()
    stop = asyncio.Event()
    task = asyncio.create_task(serve("127.0.0.1", port, app_key=APP_KEY, app_secret=APP_SECRET,
                                     items=demo_items(3), stop_event=stop))
    url = f"http://127.0.0.1:{port}"
    async with NationalPlatformClient(url, APP_KEY, APP_SECRET, directory=directory) as c:
        for _ in range(100):
            try:
                page = await c.fetch_page(None, 10)
                break
            except Exception:  # noqa: BLE001 - not listening yet
                await asyncio.sleep(0.02)
    assert len(page.items) == 3
    stop.set()
    await asyncio.wait_for(task, 5)


def test_main_rejects_bad_arguments():
    with pytest.raises(SystemExit) as err:
        main(["--items", "-1"])
    assert err.value.code == 2


def test_main_serves_demo_items_and_stops_on_sigterm(directory):
    port = closed_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NATIONAL_FEED_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "connectors.national_feed.simulator", "--port", str(port), "--items", "4"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)

        async def pull():
            async with NationalPlatformClient(f"http://127.0.0.1:{port}", DEMO_APP_KEY, DEMO_APP_SECRET,
                                              directory=directory) as c:
                return await c.fetch_page(None, 100)

        page = asyncio.run(pull())
        assert len(page.items) == 4
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert f"NATIONAL_FEED_URL=http://127.0.0.1:{port}" in err.decode()
