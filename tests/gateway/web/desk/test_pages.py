"""The desk's pages over real HTTP: the login lands a handler on /desk, the console sends them
there, the queue's tabs and live hook, the ticket page and its forms (CSRF, flashes), and the
platform's roles kept out of the desk."""

from __future__ import annotations

import aiohttp
import pytest

from tests.gateway.web.desk.conftest import PHONE, body

API = "/api/v1/desk"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x02" * 16


async def test_a_handler_logs_in_to_the_desk_and_is_sent_there_from_the_console(desk):
    await desk.user("wjw1", unit="health")
    a = await desk.agent()
    page = await a.get("/console/login")
    assert page.status == 200
    resp = await a.form("/console/login", {"username": "wjw1", "password": "correct-horse-9"})
    assert resp.status == 303 and resp.headers["Location"] == "/desk"
    for path in ("/console", "/console/intake", "/console/tickets/PDS2099010100001"):
        resp = await a.get(path)
        assert resp.status == 303 and resp.headers["Location"] == "/desk", path
    # The console's API and forms still refuse a handler outright.
    assert (await a.get("/api/v1/console/tickets")).status == 403
    assert (await a.form("/console/tickets/PDS2099010100001/claim")).status == 403
    assert (await a.get("/console/login")).headers["Location"] == "/desk"
    # A desk link followed before login comes back to it afterwards.
    b = await desk.agent()
    resp = await b.get("/desk/tickets/PDS2099010100001")
    assert resp.status == 302 and resp.headers["Location"].startswith("/console/login?next=")
    resp = await b.form("/console/login", {"username": "wjw1", "password": "correct-horse-9",
                                           "next": "/desk/tickets/PDS2099010100001"})
    assert resp.headers["Location"] == "/desk/tickets/PDS2099010100001"
    assert (await b.form("/desk/logout")).status == 303
    assert (await b.get("/desk")).status == 302


@pytest.mark.parametrize("role", ["operator", "supervisor", "admin", "dispatcher", "callback"])
async def test_platform_roles_are_refused_on_the_desk(desk, role):
    number = await desk.dispatched("health")
    a = await desk.agent(f"u-{role}", role=role)
    for path in ("/desk", "/desk/queue/panel", f"/desk/tickets/{number}", "/desk/attachments/1", "/desk/events"):
        assert (await a.get(path)).status == 403, path
    assert (await a.get(f"{API}/queue")).status == 403
    assert (await a.get(f"{API}/tickets/{number}")).status == 403
    assert (await a.post(f"{API}/tickets/{number}/sign")).status == 403
    assert (await a.form(f"/desk/tickets/{number}/sign")).status == 403


async def test_the_queue_page_has_its_tabs_counts_and_live_hook(desk):
    number = await desk.dispatched("health")
    clerk = await desk.agent("wjw1", unit="health")
    html = await (await clerk.get("/desk")).text()
    for label in ("待签收", "办理中", "即将超期", "已超期", "已退回", "已办结"):
        assert label in html
    assert 'sse-connect="/desk/events"' in html and 'hx-trigger="sse:desk"' in html
    assert 'data-count="pending_sign" class="">1<' in html and number in html
    resp = await clerk.get("/desk?tab=bogus")
    assert resp.status == 200 and "tab 取值无效" in await resp.text()


async def test_the_ticket_page_and_its_forms(desk):
    number = await desk.dispatched("health")
    clerk = await desk.agent("wjw1", unit="health")
    html = await (await clerk.get(f"/desk/tickets/{number}")).text()
    assert "138****2345" in html and PHONE not in html and "请核实后答复群众" in html
    assert 'id="sign-form"' in html and 'id="answer-form"' not in html and "非本单位职责" in html
    # A form without the CSRF token is refused.
    resp = await clerk.request("POST", f"/desk/tickets/{number}/sign", data={}, csrf=False)
    assert resp.status == 403
    resp = await clerk.form(f"/desk/tickets/{number}/sign")
    assert resp.status == 303 and resp.headers["Location"] == f"/desk/tickets/{number}"
    html = await (await clerk.get(f"/desk/tickets/{number}")).text()
    assert "已签收，工单进入办理中" in html and 'id="answer-form"' in html and 'id="sign-form"' not in html
    # A refused action comes back as a message on the page.
    await clerk.form(f"/desk/tickets/{number}/sign")
    assert "该工单已签收" in await (await clerk.get(f"/desk/tickets/{number}")).text()
    # The phone, shown on request (an htmx fragment).
    resp = await clerk.form(f"/desk/tickets/{number}/reveal")
    assert resp.status == 200 and PHONE in await resp.text()
    # The answer with a photo (multipart, the token as a form field).
    data = aiohttp.FormData(quote_fields=False)
    data.add_field("csrf_token", await clerk.csrf())
    data.add_field("text", "路灯已修复，已电话告知群众。")
    data.add_field("files", PNG, filename="修复.png", content_type="image/png")
    resp = await clerk.request("POST", f"/desk/tickets/{number}/answer", data=data, csrf=False)
    assert resp.status == 303
    html = await (await clerk.get(f"/desk/tickets/{number}")).text()
    assert "答复已提交，等待平台审核" in html and "修复.png" in html and "答复待审核" in html


async def test_the_return_form_and_the_supervision_button(desk):
    number = await desk.dispatched("health")
    other = await desk.dispatched("health")
    clerk = await desk.agent("wjw1", unit="health")
    note_id = await desk.supervise(other, "请今日内签收")
    html = await (await clerk.get(f"/desk/tickets/{other}")).text()
    assert "请今日内签收" in html and "签收督办" in html
    resp = await clerk.form(f"/desk/tickets/{other}/supervision/{note_id}/acknowledge")
    assert resp.status == 303
    assert "已签收（wjw1" in await (await clerk.get(f"/desk/tickets/{other}")).text()

    resp = await clerk.form(f"/desk/tickets/{number}/return", {"reason": "", "text": "没有原因"})
    assert "请选择退回原因" in await (await clerk.get(resp.headers["Location"])).text()
    resp = await clerk.form(f"/desk/tickets/{number}/return", {"reason": "not_our_duty", "text": "应由城管局办理"})
    assert resp.status == 303 and resp.headers["Location"] == "/desk"
    html = await (await clerk.get(f"/desk/tickets/{number}")).text()
    assert 'id="read-only"' in html and 'id="actions"' not in html
    assert (await body(await clerk.get(f"{API}/tickets/{number}")))["ticket"]["status"] == "returned"
