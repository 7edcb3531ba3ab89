"""The national platform feed inside the gateway: items become tickets; answers are written back."""

from sqlalchemy import select

from connectors.base import ReplyTarget
from connectors.national_feed.simulator import SIMULATOR, create_simulator_app, demo_items
from gateway.channels.wiring import CONNECTORS
from gateway.infra.resources import DIRECTORY, SESSIONS
from tests.gateway.conftest import eventually
from ticketing.db.models.tickets import Entry, Ticket

APP_KEY, APP_SECRET = "pds-12345", "simulator-secret-0123456789"


async def _platform(aiohttp_server, monkeypatch, items, poll_seconds: str | None = None):
    """The national platform simulator serving ``items``, and the feed settings pointing at it."""
    sim = await aiohttp_server(create_simulator_app(APP_KEY, APP_SECRET, items=items))
    monkeypatch.setenv("NATIONAL_FEED_URL", str(sim.make_url("")).rstrip("/"))
    monkeypatch.setenv("NATIONAL_FEED_APP_KEY", APP_KEY)
    monkeypatch.setenv("NATIONAL_FEED_APP_SECRET", APP_SECRET)
    if poll_seconds:
        monkeypatch.setenv("NATIONAL_FEED_POLL_SECONDS", poll_seconds)
    return sim


async def test_feed_items_become_tickets_and_answers_are_written_back(make_client, aiohttp_server, monkeypatch):
    items = demo_items(4)
    # The same citizen twice: each platform item is still its own ticket.
    items[1]["phone"] = items[0]["phone"]
    items[1]["citizen_name"] = items[0]["citizen_name"]
    sim = await _platform(aiohttp_server, monkeypatch, items, poll_seconds="1")
    client = await make_client(services={"feed"})
    app = client.app

    async def four_tickets():
        async with app[SESSIONS]() as session:
            rows = list((await session.execute(select(Ticket).where(Ticket.channel == "national_platform"))).scalars())
        return rows if len(rows) == 4 else None

    tickets = await eventually(four_tickets, timeout=20)
    assert all(t.external_deadline is not None and t.deadline == t.external_deadline for t in tickets)
    assert all(t.region in app[DIRECTORY].region_codes for t in tickets)

    first = tickets[0]
    async with app[SESSIONS]() as session:
        entry = (await session.execute(
            select(Entry).where(Entry.ticket_id == first.id, Entry.author == "citizen"))).scalar_one()
    target = ReplyTarget("national_platform", first.citizen_phone or "", thread_key=entry.channel_message_id)
    result = await app[CONNECTORS]["national_platform"].send_reply(target, "经核实，已协调属地处理完毕。")
    assert result.delivered, result.detail
    state = sim.app[SIMULATOR]
    assert [w["status"] for w in state.write_backs_of(entry.channel_message_id)] == ["answered"]


async def test_failed_write_backs_are_visible_to_admins_and_retryable(make_client, aiohttp_server, monkeypatch):
    item = demo_items(1)[0]
    item_id = str(item["id"])
    sim = await _platform(aiohttp_server, monkeypatch, [item])
    client = await make_client()
    auth = {"Authorization": "Bearer test-admin-token-0123456789"}
    state = sim.app[SIMULATOR]
    state.fail_write_backs(10)
    result = await client.app[CONNECTORS]["national_platform"].send_reply(
        ReplyTarget("national_platform", "x", thread_key=item_id), "已办理")
    assert not result.delivered and "500" in result.detail
    body = await (await client.get("/api/v1/admin/national-feed", headers=auth)).json()
    assert [f["item_id"] for f in body["failed_write_backs"]] == [item_id]
    state.fail_write_backs(0)
    retried = await (await client.post("/api/v1/admin/national-feed/retry", headers=auth)).json()
    assert retried["delivered"] == 1
    assert state.write_backs_of(item_id)


async def test_feed_admin_api_says_when_the_feed_is_not_configured(client):
    resp = await client.get("/api/v1/admin/national-feed",
                            headers={"Authorization": "Bearer test-admin-token-0123456789"})
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "feed_disabled"


async def test_direct_answer_and_closing_in_the_console_are_written_back(make_client, aiohttp_server, monkeypatch):
    from gateway.web.console import actions
    from ticketing.accounts.roles import Actor

    item = demo_items(1)[0]
    item_id = str(item["id"])
    sim = await _platform(aiohttp_server, monkeypatch, [item], poll_seconds="1")
    app = (await make_client(services={"feed"})).app

    async def the_ticket():
        async with app[SESSIONS]() as session:
            return (await session.execute(select(Ticket).where(Ticket.channel == "national_platform"))).scalar()

    ticket = await eventually(the_ticket, timeout=20)
    operator = Actor("liu", "刘静", "operator")
    # 直接办结 without a written reply, then closing: the platform hears both, in that order.
    await actions.lifecycle(app, operator, ticket.number, "answer", "电话回访已解决")
    await actions.lifecycle(app, operator, ticket.number, "close")
    writes = sim.app[SIMULATOR].write_backs_of(item_id)
    assert [w["status"] for w in writes] == ["answered", "closed"]
    assert all(w["reply"].strip() for w in writes)
