"""The registry loop: which channels a process builds, which routes it serves, which services it runs."""

import asyncio

from aiohttp import web

from connectors.national_feed.simulator import SIMULATOR, create_simulator_app, demo_items
from gateway.channels.wiring import CHANNELS, CONNECTORS, FEED_POLLER
from gateway.runtime.assembly import create_service_app

APP_KEY, APP_SECRET = "pds-12345", "simulator-secret-0123456789"


def _paths(app: web.Application) -> set[str]:
    return {resource.canonical for resource in app.router.resources()}


async def _feed(aiohttp_server, monkeypatch):
    sim = await aiohttp_server(create_simulator_app(APP_KEY, APP_SECRET, items=demo_items(1)))
    monkeypatch.setenv("NATIONAL_FEED_URL", str(sim.make_url("")).rstrip("/"))
    monkeypatch.setenv("NATIONAL_FEED_APP_KEY", APP_KEY)
    monkeypatch.setenv("NATIONAL_FEED_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("NATIONAL_FEED_POLL_SECONDS", "1")
    return sim.app[SIMULATOR]


async def test_a_channel_its_settings_leave_off_adds_no_route_and_no_output(make_client, monkeypatch):
    monkeypatch.delenv("WECHAT_TOKEN", raising=False)
    monkeypatch.delenv("NATIONAL_FEED_URL", raising=False)
    client = await make_client(run_worker=False)
    app = client.app
    assert set(app[CHANNELS]) == {"web", "email", "open311"}  # open311: always on, served by its sub-app
    assert set(app[CONNECTORS]) == {"email"}  # web replies are live events, not an output channel
    assert FEED_POLLER not in app
    assert "/wechat" not in _paths(app) and "/api/v1/web/messages" in _paths(app)
    assert (await client.get("/wechat")).status == 404


async def test_a_channel_its_settings_turn_on_serves_its_routes(make_client, monkeypatch):
    monkeypatch.setenv("WECHAT_TOKEN", "hotline12345")
    client = await make_client(run_worker=False)
    assert "/wechat" in _paths(client.app) and set(client.app[CONNECTORS]) == {"wechat", "email"}
    assert (await client.get("/wechat")).status == 403  # served, and the unsigned request refused


async def test_a_service_process_builds_the_channels_but_serves_no_http(stack, monkeypatch):
    monkeypatch.setenv("WECHAT_TOKEN", "hotline12345")
    monkeypatch.setenv("HOTLINE_SMTP_PORT", "0")
    app = create_service_app(stack.settings(), redis_url=stack.redis_url, services={"smtp"})
    assert set(app[CONNECTORS]) == {"wechat", "email"}  # operator replies still go out from here
    assert not app.router.resources()
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        assert app[CHANNELS]["email"].server is not None  # this process runs the mailbox
    finally:
        await runner.cleanup()
    assert app[CHANNELS]["email"].server is None


async def test_the_mailbox_is_served_only_where_asked(make_client, monkeypatch):
    monkeypatch.setenv("HOTLINE_SMTP_PORT", "0")
    client = await make_client(run_worker=False)
    assert client.app[CHANNELS]["email"].server is None


async def test_the_feed_poller_runs_only_where_asked(make_client, aiohttp_server, monkeypatch):
    state = await _feed(aiohttp_server, monkeypatch)
    web_only = await make_client(run_worker=False)
    assert web_only.app[FEED_POLLER] is web_only.app[CHANNELS]["national_platform"].poller
    await asyncio.sleep(1.5)
    assert state.fetches == 0  # it can write back, but it does not poll

    await make_client(run_worker=False, services={"feed"})
    for _ in range(100):
        if state.fetches:
            break
        await asyncio.sleep(0.05)
    assert state.fetches > 0
