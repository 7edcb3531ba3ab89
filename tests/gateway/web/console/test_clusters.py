"""并单 through the console: a ticket's likely duplicates, the clusters page and API, and merging a
mass complaint into its main ticket in one action (every duplicate merged, contacts carried)."""

from __future__ import annotations

from gateway.infra.resources import SESSIONS
from tests.gateway.web.console.conftest import make_ticket
from ticketing.tickets import handling, store

WATER = [  # one matter at one site, told through four channels
    ("wechat", "湛河区锦绣花园小区停水三天了，也没有通知，什么时候来水啊", None),
    ("web", "锦绣花园小区自本周一起一直没有自来水，物业说不清原因，请供水公司尽快恢复供水。", "13837510001"),
    ("email", "我是锦绣花园的住户，小区断水已经好几天了，打物业电话没人管，恳请帮助协调恢复供水。", None),
    ("phone", "来电人称湛河区锦绣花园小区连续三天停水，老人孩子没水用，要求尽快恢复供水。", "13837510003"),
]
GARBAGE = "湛河区锦绣花园小区垃圾站垃圾堆积如山，一周未清运，蚊蝇滋生，请环卫部门处理。"  # same site, other problem
OTHER_SITE = "卫东区帝景花园小区今天又停水了，这个月第三次了"  # same problem, other site


async def seed(app) -> tuple[list[str], str, str]:
    water = [await make_ticket(app, channel=channel, text=text, phone=phone, name=None, department="utilities",
                               region="zhanhe")
             for channel, text, phone in WATER]
    garbage = await make_ticket(app, text=GARBAGE, department="urban_management", region="zhanhe")
    other = await make_ticket(app, text=OTHER_SITE, department="utilities", region="weidong")
    return water, garbage, other


async def test_a_ticket_shows_its_likely_duplicates_only(console):
    client, agent, _ = console
    water, garbage, other = await seed(client.app)
    wang = await agent("wang")
    resp = await wang.get(f"/api/v1/console/tickets/{water[0]}/duplicates")
    assert resp.status == 200
    body = await resp.json()
    found = [d["ticket_no"] for d in body["duplicates"]]
    assert set(found) == set(water[1:])
    assert garbage not in found and other not in found
    assert all(d["mergeable"] and d["score"] > 0 for d in body["duplicates"])
    # Phone numbers in the texts are masked like everywhere in the console.
    assert "13837510001" not in await resp.text()

    page = await wang.get(f"/console/tickets/{water[0]}/duplicates", headers={"HX-Request": "true"})
    html = await page.text()
    assert page.status == 200 and "合并到本工单" in html and water[1] in html and garbage not in html
    ticket_page = await (await wang.get(f"/console/tickets/{water[0]}")).text()
    assert f'hx-get="/console/tickets/{water[0]}/duplicates"' in ticket_page


async def test_clusters_list_one_group_per_matter_and_merge_all_in_one_action(console):
    client, agent, _ = console
    water, garbage, other = await seed(client.app)
    wang = await agent("wang")
    body = await (await wang.get("/api/v1/console/clusters")).json()
    assert len(body["clusters"]) == 1
    [cluster] = body["clusters"]
    members = {cluster["main"]["ticket_no"], *(d["ticket_no"] for d in cluster["others"])}
    assert members == set(water)
    assert cluster["main"]["ticket_no"] == water[0]  # all still in review: the oldest leads

    page = await wang.get("/console/clusters")
    assert page.status == 200 and "合并选中的 3 件" in await page.text()

    resp = await wang.post("/api/v1/console/clusters/merge", {"main": water[0], "numbers": cluster["mergeable"]})
    assert resp.status == 200, await resp.text()
    assert set((await resp.json())["merged"]) == set(water[1:])
    async with client.app[SESSIONS]() as session:
        main = await store.ticket_by_number(session, water[0])
        assert {t.number for t in await handling.merged_duplicates(session, main)} == set(water[1:])
        assert main.citizen_phone == "13837510001"  # the main ticket came without one: carried over
        for number in water[1:]:
            assert (await store.ticket_by_number(session, number)).status == "merged"
        for number in (garbage, other):
            assert (await store.ticket_by_number(session, number)).status == "pending_review"
    # Merged tickets leave the clusters at once in this process.
    assert (await (await wang.get("/api/v1/console/clusters")).json())["clusters"] == []


async def test_a_refused_fold_refuses_the_whole_merge(console):
    client, agent, _ = console
    water, _, _ = await seed(client.app)
    wang, li = await agent("wang"), await agent("li")
    assert (await li.post(f"/api/v1/console/tickets/{water[2]}/claim")).status == 200
    resp = await wang.post("/api/v1/console/clusters/merge", {"main": water[0], "numbers": water[1:]})
    assert resp.status == 409, await resp.text()
    assert (await resp.json())["error"]["message"]
    async with client.app[SESSIONS]() as session:
        for number in water:
            assert (await store.ticket_by_number(session, number)).status == "pending_review"


async def test_the_page_form_merges_and_lands_on_the_main_ticket(console):
    client, agent, _ = console
    water, _, _ = await seed(client.app)
    wang = await agent("wang")
    resp = await wang.form("/console/clusters/merge", {"main": water[0], "numbers": water[1]})
    assert resp.status == 303 and resp.headers["Location"] == f"/console/tickets/{water[0]}"
    async with client.app[SESSIONS]() as session:
        assert (await store.ticket_by_number(session, water[1])).status == "merged"
    resp = await wang.post("/api/v1/console/clusters/merge", {"main": water[0], "numbers": []})
    assert resp.status == 400
