"""并单 through the console: a ticket's likely duplicates, the clusters page and API, and merging a
mass complaint into its main ticket in one action (every duplicate merged, contacts carried)."""

from __future__ import annotations

import asyncio

from gateway.infra.resources import SESSIONS
from gateway.worker.clusters import CLUSTER_JOB, ClusterRun
from tests.gateway.web.console.conftest import make_ticket
from ticketing.tickets import handling, store

WATER = [  # one matter at one site, told through four channels
    ("wechat", "湛河区锦绣花园小区停水三天了，也没有通知，什么时候来水啊", None),
    ("web", "锦绣花园小区自本周一起一直没有自来水，物业说不清原因，请供水公司尽快恢复供水。", "13837510001"),
    ("email", "我是锦绣花园的住户，小区断水已经好几天了，打物业电话没人管，恳请帮助协调恢复供水。", None),
    ("phone", "来电人称湛河区锦绣花园小区连续三天停水，老人孩子没水用，要求尽快恢复供水。", "13837510003"),
]
GARBAGE = "湛河区锦绣花园小区垃圾站垃圾堆积如山，一周未清运，蚊蝇滋生，请环卫部门处理。"  # same site, other problem
LATE = "锦绣花园小区还是没有水，停水第四天了，请供水公司给个说法"  # one more citizen, after the worker's run
OTHER_SITE = "卫东区帝景花园小区今天又停水了，这个月第三次了"  # same problem, other site


async def clustered(app) -> ClusterRun:
    """One run of this process's 并单 job (waiting out the background one if it holds the lock)."""
    for _ in range(100):
        run = await app[CLUSTER_JOB].run_once()
        if not run.locked_out:
            return run
        await asyncio.sleep(0.1)
    raise AssertionError("the clusters lock stayed taken")


async def seed(app, *, cluster: bool = True) -> tuple[list[str], str, str]:
    water = [await make_ticket(app, channel=channel, text=text, phone=phone, name=None, department="utilities",
                               region="zhanhe")
             for channel, text, phone in WATER]
    garbage = await make_ticket(app, text=GARBAGE, department="urban_management", region="zhanhe")
    other = await make_ticket(app, text=OTHER_SITE, department="utilities", region="weidong")
    if cluster:
        await clustered(app)
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


async def test_the_worker_keeps_the_clusters_as_tickets_arrive_and_close(console):
    client, agent, _ = console
    water, garbage, _ = await seed(client.app)
    wang = await agent("wang")
    late = await make_ticket(client.app, channel="wechat", text=LATE, department="utilities", region="zhanhe")
    # Stored before the late ticket: the page shows what the worker stored, nothing computed on the way.
    [cluster] = (await (await wang.get("/api/v1/console/clusters")).json())["clusters"]
    assert late not in {d["ticket_no"] for d in cluster["others"]}
    run = await clustered(client.app)
    assert run.changed == 1 and run.clusters == 1  # only the new ticket was looked at
    [cluster] = (await (await wang.get("/api/v1/console/clusters")).json())["clusters"]
    assert {cluster["main"]["ticket_no"], *(d["ticket_no"] for d in cluster["others"])} == {*water, late}
    other = await agent("li")  # a second operator's ticket leaves the open set: merged elsewhere
    assert (await other.post("/api/v1/console/clusters/merge", {"main": garbage, "numbers": [late]})).status == 200
    assert (await clustered(client.app)).changed == 1
    [cluster] = (await (await wang.get("/api/v1/console/clusters")).json())["clusters"]
    assert late not in {d["ticket_no"] for d in cluster["others"]}


async def test_without_a_worker_the_page_computes_the_clusters_itself(make_client):
    from tests.gateway.web.console.conftest import Agent

    client = await make_client(run_worker=False)
    water, _, _ = await seed(client.app, cluster=False)
    async with client.app[SESSIONS]() as session, session.begin():
        from ticketing.accounts import users

        await users.create_user(session, "wang", role="operator", password="correct-horse-9", display_name="王")
    wang = Agent(client)
    try:
        assert (await wang.login("wang")).status == 200
        [cluster] = (await (await wang.get("/api/v1/console/clusters")).json())["clusters"]
        assert {cluster["main"]["ticket_no"], *(d["ticket_no"] for d in cluster["others"])} == set(water)
    finally:
        await wang.close()
