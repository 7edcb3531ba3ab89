"""FeedPoller: simulator over HTTP → real Redis stream, cursor and state in real Redis."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

from connectors.national_feed.simulator import demo_items

from .conftest import make_item

HANDLED = datetime(2024, 5, 7, 2, 0, tzinfo=timezone.utc)


async def test_all_pages_are_published_in_order(sim, poller, publish):
    sim.state.add_items(make_item(n) for n in range(1, 8))
    result = await poller.poll_once()
    assert result.ok, result.error
    assert (result.pages, result.published, result.duplicates, result.skipped) == (3, 7, 0, 0)
    assert [m.native_id for m in await publish.messages()] == [f"GJ20240506{n:06d}" for n in range(1, 8)]
    assert await poller.cursor() == "7"
    status = await poller.status()
    assert status["published_total"] == 7 and status["last_success_at"] and status["last_error"] is None
    assert status["cursor"] == "7"


async def test_nothing_new_is_one_cheap_round(sim, poller, publish):
    sim.state.add_items([make_item(1)])
    await poller.poll_once()
    fetches = sim.state.fetches
    result = await poller.poll_once()
    assert result.ok and result.pages == 1 and result.published == 0
    assert sim.state.fetches == fetches + 1
    assert len(await publish.messages()) == 1


async def test_an_item_served_twice_is_published_once(sim, poller, publish):
    sim.state.add_items([make_item(1), make_item(2), make_item(1)])
    result = await poller.poll_once()
    assert (result.published, result.duplicates) == (2, 1)
    # re-sent by the platform in a later round, too
    sim.state.add_items([make_item(2), make_item(3)])
    result = await poller.poll_once()
    assert (result.published, result.duplicates) == (1, 1)
    assert [m.native_id[-1] for m in await publish.messages()] == ["1", "2", "3"]
    assert (await poller.status())["duplicates_total"] == 2


async def test_a_new_poller_resumes_from_the_persisted_cursor(sim, poller, make_poller, make_client, publish,
                                                             redis_client):
    sim.state.add_items(make_item(n) for n in range(1, 5))
    await poller.poll_once()
    sim.state.add_items([make_item(5), make_item(6)])
    # a restarted process: new client, new poller, same Redis; with the dedupe set gone,
    # only the cursor keeps the old items from being imported again
    restarted = make_poller(make_client())
    await redis_client.delete(restarted.imported_key)
    result = await restarted.poll_once()
    assert result.ok and result.published == 2 and result.duplicates == 0
    assert [m.native_id[-1] for m in await publish.messages()] == ["1", "2", "3", "4", "5", "6"]
    assert await restarted.cursor() == "6"


async def test_publish_failure_keeps_the_cursor_and_retries_the_page(sim, poller, publish):
    sim.state.add_items(make_item(n) for n in range(1, 6))  # pages: 1-3, 4-5
    publish.fail_after(2)  # the intake stream goes away after two messages
    result = await poller.poll_once()
    assert not result.ok and result.error.startswith("publish: intake unavailable")
    assert result.published == 2
    assert await poller.cursor() is None  # page 1 was not complete
    status = await poller.status()
    assert status["consecutive_errors"] == 1 and status["errors_total"] == 1
    assert "intake unavailable" in status["last_error"] and status["last_error_at"]

    publish.recover()
    result = await poller.poll_once()
    assert result.ok and (result.published, result.duplicates) == (3, 2)
    assert [m.native_id[-1] for m in await publish.messages()] == ["1", "2", "3", "4", "5"]
    assert await poller.cursor() == "5"
    status = await poller.status()
    assert status["consecutive_errors"] == 0 and status["errors_total"] == 1


async def test_failure_on_a_later_page_keeps_earlier_pages(sim, poller, publish):
    sim.state.add_items(make_item(n) for n in range(1, 6))
    publish.fail_after(4)  # page 1 (1-3) complete, then 4 ok, 5 fails
    result = await poller.poll_once()
    assert not result.ok and await poller.cursor() == "3"
    publish.recover()
    assert (await poller.poll_once()).published == 1
    assert len(await publish.messages()) == 5


async def test_bad_items_are_skipped_and_reported(sim, poller, publish):
    sim.state.add_items([make_item(1), make_item(2, id=None), make_item(3, content=""), "garbage", make_item(4)])
    result = await poller.poll_once()
    assert result.ok and (result.published, result.skipped) == (2, 3)
    assert await poller.cursor() == "5"
    skipped = await poller.skipped_items()
    assert [s["reason"] for s in skipped] == ["item is not a JSON object", "missing content (内容)", "missing id (编号)"]
    assert skipped[1]["item_id"] == "GJ20240506000003"
    assert "content" in skipped[1]["fields"] and "小区路灯" not in json.dumps(skipped, ensure_ascii=False)
    assert (await poller.status())["skipped_total"] == 3


async def test_platform_errors_are_visible_in_status(sim, poller, publish):
    sim.state.add_items([make_item(1)])
    sim.state.fail_fetches(1)
    result = await poller.poll_once()
    assert result.error.startswith("fetch: HTTP 500 INTERNAL_ERROR")
    status = await poller.status()
    assert status["last_error"].startswith("fetch: HTTP 500") and status["consecutive_errors"] == 1
    assert (await poller.poll_once()).published == 1
    assert (await poller.status())["consecutive_errors"] == 0


async def test_a_wrong_secret_shows_as_the_last_error(sim, make_client, make_poller, publish):
    sim.state.add_items([make_item(1)])
    p = make_poller(make_client(app_secret="wrong-secret-0123456789"))
    result = await p.poll_once()
    assert "HTTP 401 INVALID_SIGNATURE" in result.error
    assert "INVALID_SIGNATURE" in (await p.status())["last_error"]
    assert await publish.messages() == []


async def test_one_replica_polls_at_a_time(sim, poller, make_poller, publish, redis_client):
    sim.state.add_items([make_item(1)])
    await redis_client.set(poller.lock_key, "another-replica", px=5000)
    result = await poller.poll_once()
    assert result.locked_out and result.published == 0 and sim.state.fetches == 0
    await redis_client.delete(poller.lock_key)
    # concurrent rounds: exactly one publishes
    results = await asyncio.gather(poller.poll_once(), make_poller().poll_once())
    assert sum(r.published for r in results) == 1
    assert len(await publish.messages()) == 1
    assert await redis_client.exists(poller.lock_key) == 0


async def test_a_round_that_outlives_its_lock_stops_and_leaves_the_new_holder_alone(sim, poller, publish,
                                                                                     redis_client):
    sim.state.add_items(make_item(n) for n in range(1, 8))
    real_publish = poller.publish

    async def publish_slowly(message):
        if message.native_id.endswith("000001"):
            # The lock lapses while page one is published, and another replica takes it.
            await redis_client.set(poller.lock_key, "another-replica", px=5000)
        return await real_publish(message)

    poller.publish = publish_slowly
    result = await poller.poll_once()
    assert result.error == "poll lock expired during the round (pages too slow?)"
    assert result.pages == 1 and result.published == 3 and await poller.cursor() == "3"
    assert await redis_client.get(poller.lock_key) == b"another-replica"


async def test_the_lock_lives_for_its_ttl_and_is_renewed_per_page(sim, make_poller, redis_client):
    poller = make_poller(lock_ttl=30.0)
    sim.state.add_items(make_item(n) for n in range(1, 5))
    ttls = []
    real_fetch = poller.client.fetch_page

    async def fetch_and_look(cursor, limit):
        ttls.append(await redis_client.pttl(poller.lock_key))
        return await real_fetch(cursor, limit)

    poller.client.fetch_page = fetch_and_look
    assert (await poller.poll_once()).ok
    assert len(ttls) == 2 and all(25_000 < ttl <= 30_000 for ttl in ttls)
    assert await redis_client.exists(poller.lock_key) == 0


async def test_demo_items_end_to_end(sim, poller, publish):
    items = demo_items(12)
    sim.state.add_items(items)
    await poller.poll_once()
    messages = await publish.messages()
    assert len(messages) == 12
    assert {m.metadata["region_hint"] for m in messages} == {
        "xinhua", "weidong", "zhanhe", "baofeng", "gaoxin", "ruzhou", "wugang", "lushan", "jiaxian",
        "shifanqu", "yexian", "shilong"}
    assert {m.metadata["request_type_hint"] for m in messages} == {
        "consult", "complaint", "report", "help", "suggestion", "praise"}
    for m, item in zip(messages, items, strict=True):
        assert m.received_at.tzinfo == timezone.utc
        local = datetime.strptime(item["submitted_at"], "%Y-%m-%d %H:%M:%S")
        assert (m.received_at.replace(tzinfo=None) - local).total_seconds() == -8 * 3600
        assert m.metadata["deadline"].endswith("15:59:59+00:00")


async def test_run_polls_until_stopped(sim, poller, publish):
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    sim.state.add_items([make_item(1)])
    for _ in range(200):
        if len(await publish.messages()) == 1:
            break
        await asyncio.sleep(0.02)
    sim.state.add_items([make_item(2)])
    for _ in range(200):
        if len(await publish.messages()) == 2:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 2)
    assert [m.native_id[-1] for m in await publish.messages()] == ["1", "2"]
    assert (await poller.status())["rounds_total"] >= 2


async def test_run_survives_errors_and_counts_them(sim, poller, publish):
    sim.state.add_items([make_item(1)])
    sim.state.fail_fetches(2)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    for _ in range(300):
        if await publish.messages():
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 2)
    status = await poller.status()
    assert status["errors_total"] == 2 and status["consecutive_errors"] == 0
    assert status["last_error"].startswith("fetch: HTTP 500")
    assert len(await publish.messages()) == 1


# ---- write-back ------------------------------------------------------------------------------

async def test_write_back_through_the_poller(sim, poller):
    sim.state.add_items([make_item(1)])
    result = await poller.write_back("GJ20240506000001", "answered", "您好，已安排维修。", HANDLED)
    assert result.delivered
    assert sim.state.write_backs[0]["reply"] == "您好，已安排维修。"
    assert await poller.failed_write_backs() == []
    assert (await poller.status())["write_backs_ok_total"] == 1


async def test_write_back_retried_after_500s(sim, poller):
    sim.state.add_items([make_item(1)])
    sim.state.fail_write_backs(2)
    assert (await poller.write_back("GJ20240506000001", "closed", "已办结。", HANDLED)).delivered
    assert sim.state.write_back_attempts == 3
    assert await poller.failed_write_backs() == []


async def test_permanent_failure_is_listed_and_retry_failed_sends_it(sim, poller):
    sim.state.add_items([make_item(1)])
    sim.state.fail_write_backs(3)  # every try of the first call
    result = await poller.write_back("GJ20240506000001", "answered", "您好，已安排维修。", HANDLED)
    assert not result.delivered
    [failed] = await poller.failed_write_backs()
    assert failed["item_id"] == "GJ20240506000001" and failed["status"] == "answered"
    assert failed["reason"].startswith("HTTP 500 INTERNAL_ERROR") and "(after 3 tries)" in failed["reason"]
    assert failed["attempts"] == 1 and failed["retryable"] and failed["next_retry_at"]
    assert failed["reply_text"] == "您好，已安排维修。"
    status = await poller.status()
    assert status["failed_write_backs"] == 1 and status["write_backs_failed_total"] == 1
    assert "GJ20240506000001" in status["last_write_back_error"]

    counts = await poller.retry_failed()
    assert counts == {"retried": 1, "delivered": 1, "failed": 0}
    assert await poller.failed_write_backs() == []
    [wb] = sim.state.write_backs
    assert wb["reply"] == "您好，已安排维修。" and wb["handled_at"] == "2024-05-07T10:00:00+08:00"


async def test_repeated_failures_count_attempts(sim, poller):
    sim.state.add_items([make_item(1)])
    sim.state.fail_write_backs(6)
    await poller.write_back("GJ20240506000001", "answered", "答复。", HANDLED)
    assert (await poller.retry_failed()) == {"retried": 1, "delivered": 0, "failed": 1}
    [failed] = await poller.failed_write_backs()
    assert failed["attempts"] == 2 and failed["first_failed_at"] <= failed["last_failed_at"]


async def test_rejected_write_back_waits_for_an_admin(sim, poller):
    result = await poller.write_back("GJ-UNKNOWN", "answered", "答复。", HANDLED)
    assert not result.delivered and result.detail.startswith("HTTP 404")
    [failed] = await poller.failed_write_backs()
    assert not failed["retryable"] and failed["next_retry_at"] is None
    assert await poller.retry_failed(automatic=True) == {"retried": 0, "delivered": 0, "failed": 0}
    # the admin fixes the cause (here: the item now exists) and retries just this one
    sim.state.add_items([make_item(9, id="GJ-UNKNOWN")])
    assert (await poller.retry_failed(["GJ-UNKNOWN"]))["delivered"] == 1
    assert await poller.failed_write_backs() == []


async def test_the_run_loop_retries_transient_write_back_failures(sim, poller):
    sim.state.add_items([make_item(1)])
    sim.state.fail_write_backs(3)
    await poller.write_back("GJ20240506000001", "answered", "答复。", HANDLED)
    assert len(await poller.failed_write_backs()) == 1
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    for _ in range(200):
        if sim.state.write_backs:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 2)
    assert len(sim.state.write_backs) == 1
    assert await poller.failed_write_backs() == []


async def test_closing_supersedes_a_failed_answer(sim, poller):
    sim.state.add_items([make_item(1)])
    sim.state.fail_write_backs(3)
    await poller.write_back("GJ20240506000001", "answered", "答复。", HANDLED)
    assert (await poller.write_back("GJ20240506000001", "closed", "已办结。", HANDLED)).delivered
    assert await poller.failed_write_backs() == []


async def test_wiring_from_settings(sim, publish, redis_client, prefix, directory):
    from connectors.national_feed import load_national_feed_settings, poller_from_settings

    from .conftest import APP_KEY, APP_SECRET

    disabled = load_national_feed_settings(NATIONAL_FEED_URL="")
    assert poller_from_settings(disabled, publish, redis_client, f"{prefix}:feed") is None
    settings = load_national_feed_settings(
        NATIONAL_FEED_URL=sim.url, NATIONAL_FEED_APP_KEY=APP_KEY, NATIONAL_FEED_APP_SECRET=APP_SECRET,
        NATIONAL_FEED_PAGE_SIZE=2, NATIONAL_FEED_HANDLER_UNIT="汝州市12345远端坐席")
    p = poller_from_settings(settings, publish, redis_client, f"{prefix}:feed", directory=directory)
    try:
        sim.state.add_items(make_item(n) for n in range(1, 4))
        result = await p.poll_once()
        assert (result.pages, result.published) == (2, 3)
        assert (await p.write_back("GJ20240506000001", "answered", "答复。", HANDLED)).delivered
        assert sim.state.write_backs[0]["handler_unit"] == "汝州市12345远端坐席"
    finally:
        await p.close()
