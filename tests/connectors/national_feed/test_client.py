"""NationalPlatformClient against the simulator over real HTTP."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import aiohttp
import pytest

from connectors.national_feed.protocol import FeedHTTPError, FeedNetworkError, canonical_query, signed_headers

from .conftest import APP_KEY, APP_SECRET, closed_port, make_item

HANDLED = datetime(2024, 5, 7, 2, 0, tzinfo=timezone.utc)


async def test_pages_follow_the_cursor(sim, client):
    sim.state.add_items(make_item(n) for n in range(1, 6))
    first = await client.fetch_page(None, 2)
    assert [i["id"] for i in first.items] == ["GJ20240506000001", "GJ20240506000002"]
    assert first.has_more
    second = await client.fetch_page(first.next_cursor, 2)
    third = await client.fetch_page(second.next_cursor, 2)
    assert [i["id"][-1] for i in second.items + third.items] == ["3", "4", "5"]
    assert not third.has_more
    empty = await client.fetch_page(third.next_cursor, 2)
    assert empty.items == () and empty.next_cursor == third.next_cursor and not empty.has_more
    assert sim.state.auth_failures == []


async def test_bad_secret_is_refused_and_surfaced(sim, make_client):
    bad = make_client(app_secret="not-the-platform-secret")
    with pytest.raises(FeedHTTPError) as err:
        await bad.fetch_page(None, 10)
    assert err.value.status == 401 and err.value.code == "INVALID_SIGNATURE"
    assert not err.value.retryable
    assert "HTTP 401 INVALID_SIGNATURE" in err.value.detail()
    assert sim.state.auth_failures == ["INVALID_SIGNATURE"]


async def test_bad_app_key_is_refused(sim, make_client):
    with pytest.raises(FeedHTTPError) as err:
        await make_client(app_key="someone-else").fetch_page(None, 10)
    assert (err.value.status, err.value.code) == (401, "INVALID_APP_KEY")


async def test_simulator_checks_every_header(sim):
    """The server side of signing, with hand-made requests."""
    url = f"{sim.url}/api/v1/items?limit=5"

    async def get(headers, target=url):
        async with aiohttp.ClientSession() as s, s.get(target, headers=headers) as r:
            return r.status, await r.json()

    status, body = await get({})
    assert status == 401 and body["error"]["code"] == "MISSING_AUTH" and body["request_id"]
    headers = signed_headers(APP_KEY, APP_SECRET, "GET", "/api/v1/items", "limit=5")
    assert (await get(headers))[0] == 200
    status, body = await get(headers)  # the very same request again
    assert status == 401 and body["error"]["code"] == "NONCE_REUSED"
    stale = signed_headers(APP_KEY, APP_SECRET, "GET", "/api/v1/items", "limit=5", timestamp=int(time.time()) - 600)
    assert (await get(stale))[1]["error"]["code"] == "TIMESTAMP_EXPIRED"
    # signed for limit=5, sent with limit=100: the query is covered by the signature
    headers = signed_headers(APP_KEY, APP_SECRET, "GET", "/api/v1/items", "limit=5")
    status, body = await get(headers, f"{sim.url}/api/v1/items?limit=100")
    assert status == 401 and body["error"]["code"] == "INVALID_SIGNATURE"
    # and the body of a POST
    headers = signed_headers(APP_KEY, APP_SECRET, "POST", "/api/v1/items/X/feedback", "", b'{"a":1}')
    async with aiohttp.ClientSession() as s, s.post(f"{sim.url}/api/v1/items/X/feedback", data=b'{"a":2}',
                                                   headers=headers) as r:
        assert r.status == 401 and (await r.json())["error"]["code"] == "INVALID_SIGNATURE"


async def test_bad_parameters_are_400_in_the_error_format(sim):
    qs = canonical_query({"limit": 500})
    headers = signed_headers(APP_KEY, APP_SECRET, "GET", "/api/v1/items", qs)
    async with aiohttp.ClientSession() as s, s.get(f"{sim.url}/api/v1/items?{qs}", headers=headers) as r:
        assert r.status == 400 and (await r.json())["error"]["code"] == "INVALID_PARAMETER"


async def test_write_back_is_recorded(sim, client):
    sim.state.add_items([make_item(1)])
    result = await client.write_back("GJ20240506000001", "answered", "您好，路灯已于5月7日修复。", HANDLED)
    assert result.delivered and result.channel_message_id == "R000001" and result.detail == ""
    [wb] = sim.state.write_backs
    assert wb["item_id"] == "GJ20240506000001"
    assert wb["status"] == "answered"
    assert wb["reply"] == "您好，路灯已于5月7日修复。"
    assert wb["handled_at"] == "2024-05-07T10:00:00+08:00"
    assert wb["handler_unit"] == "平顶山市12345政务服务便民热线"
    assert len(wb["feedback_id"]) == 32


async def test_the_same_write_back_twice_is_recorded_once(sim, client):
    sim.state.add_items([make_item(1)])
    first = await client.write_back("GJ20240506000001", "closed", "已办结。", HANDLED)
    again = await client.write_back("GJ20240506000001", "closed", "已办结。", HANDLED)
    assert first.delivered and again.delivered and again.detail == "duplicate"
    assert again.channel_message_id == first.channel_message_id
    assert len(sim.state.write_backs) == 1
    # a closed item takes no new feedback: 409, not retried
    other = await client.write_back("GJ20240506000001", "answered", "补充答复。", HANDLED)
    assert not other.delivered and other.detail.startswith("HTTP 409 ITEM_CLOSED")


async def test_write_back_retries_after_500s_then_succeeds(sim, client):
    sim.state.add_items([make_item(1)])
    sim.state.fail_write_backs(2)
    result = await client.write_back("GJ20240506000001", "answered", "已答复。", HANDLED)
    assert result.delivered
    assert sim.state.write_back_attempts == 3
    assert len(sim.state.write_backs) == 1


async def test_write_back_gives_up_after_three_tries(sim, client):
    sim.state.add_items([make_item(1)])
    sim.state.fail_write_backs(5)
    result = await client.write_back("GJ20240506000001", "answered", "已答复。", HANDLED)
    assert not result.delivered
    assert result.detail.startswith("HTTP 500 INTERNAL_ERROR") and result.detail.endswith("(after 3 tries)")
    assert sim.state.write_back_attempts == 3 and sim.state.write_backs == []


async def test_4xx_is_not_retried(sim, client):
    result = await client.write_back("UNKNOWN", "answered", "已答复。", HANDLED)
    assert not result.delivered and result.detail.startswith("HTTP 404 ITEM_NOT_FOUND")
    assert sim.state.write_back_attempts == 1


async def test_invalid_write_back_is_not_sent(sim, client):
    result = await client.write_back("GJ20240506000001", "done", "已答复。", HANDLED)
    assert not result.delivered and result.detail.startswith("INVALID:")
    assert sim.state.write_back_attempts == 0


async def test_item_ids_are_percent_encoded_and_signed_as_sent(sim, client):
    sim.state.add_items([make_item(1, id="事项-001")])
    result = await client.write_back("事项-001", "answered", "已答复。", HANDLED)
    assert result.delivered, result.detail
    assert sim.state.write_backs[0]["item_id"] == "事项-001"


async def test_unreachable_platform(make_client):
    dead = make_client(url=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(FeedNetworkError) as err:
        await dead.fetch_page(None, 10)
    assert err.value.retryable
    result = await dead.write_back("GJ1", "answered", "已答复。", HANDLED)
    assert not result.delivered and result.detail.startswith("NETWORK") and "(after 3 tries)" in result.detail


async def test_base_url_with_a_path_prefix(aiohttp_server, directory):
    """A platform behind a gateway path (``https://host/gw``): the prefix is part of the signed path."""
    from aiohttp import web

    from connectors.national_feed.client import NationalPlatformClient
    from connectors.national_feed.simulator import create_simulator_app

    outer = web.Application()
    inner = create_simulator_app(APP_KEY, APP_SECRET, [make_item(1)])
    outer.add_subapp("/gw", inner)

    # the simulator signs against request.rel_url.raw_path, which includes /gw
    server = await aiohttp_server(outer)
    base = str(server.make_url("/gw/"))
    async with NationalPlatformClient(base, APP_KEY, APP_SECRET, directory=directory) as c:
        page = await c.fetch_page(None, 5)
        assert (await c.write_back("GJ20240506000001", "answered", "已答复。", HANDLED)).delivered
    assert [i["id"] for i in page.items] == ["GJ20240506000001"]
    async with NationalPlatformClient(base, APP_KEY, "wrong-secret-0123456789", directory=directory) as c:
        with pytest.raises(FeedHTTPError) as err:
            await c.fetch_page(None, 5)
    assert err.value.code == "INVALID_SIGNATURE"


def test_repr_hides_the_secret(client):
    assert APP_SECRET not in repr(client)
