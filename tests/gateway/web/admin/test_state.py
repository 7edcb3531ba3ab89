"""The follower's reading of the swap window (an external Rasa loading a model with `PUT /model`)."""

from __future__ import annotations

import time

from aiohttp import web

from gateway.infra.keys import RedisKeys
from gateway.infra.redis_client import connect
from gateway.infra.resources import KEYS, NLU, REDIS, SETTINGS
from gateway.web.admin.state import STATE, SWAP_TIMEOUT, NluAdminKeys, NluAdminState, sync_once
from nlu.client import NluClient

BASE_TIMEOUT = 2.0


async def test_a_swap_that_ends_during_a_tick_does_not_leave_the_long_timeout(stack, aiohttp_server):
    """The tick read `swap_until`, then asked Rasa for the new model's name; meanwhile the swap
    ended (the activating request removed the window and reset the timeout). The stale reading
    must not put the long timeout back: parses would wait 45 s for a server that is ready."""
    redis = connect(stack.redis_url)
    keys = NluAdminKeys(stack.prefix)
    client = NluClient(None, timeout=BASE_TIMEOUT)
    ended = []

    async def status(request: web.Request) -> web.Response:
        if not ended:  # the activation finishes while this tick waits for Rasa's answer
            await redis.hdel(keys.active, "swap_until")
            client.timeout = BASE_TIMEOUT
            ended.append(time.monotonic())
        return web.json_response({"model_file": "/models/nlu-new.tar.gz"})

    rasa = web.Application()
    rasa.router.add_get("/status", status)
    server = await aiohttp_server(rasa)
    url = str(server.make_url("")).rstrip("/")
    client.base_url = url
    settings = stack.settings(RASA_URL=url, HOTLINE_NLU_ENABLED=True)
    config = {STATE: NluAdminState(configured_url=url, base_timeout=BASE_TIMEOUT, followed_model="nlu-old"),
              NLU: client, REDIS: redis, SETTINGS: settings, KEYS: RedisKeys(stack.prefix)}
    try:
        await redis.hset(keys.active, mapping={"mode": "external", "url": url, "model": "nlu-new",
                                               "swap_until": str(time.time() + 600)})
        await sync_once(config)
        assert ended, "the simulated Rasa was asked for the model name"
        assert client.timeout == BASE_TIMEOUT
        assert await client.model_version() == "nlu-new"

        # A window that is really open still gives parses the long timeout.
        await redis.hset(keys.active, "swap_until", str(time.time() + 600))
        await sync_once(config)
        assert client.timeout == max(BASE_TIMEOUT, SWAP_TIMEOUT)
    finally:
        await client.close()
        await redis.delete(keys.active)
        await redis.aclose()
