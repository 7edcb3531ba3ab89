"""POST /message (网民留言): CSRF, validation, images, rate limit, durability, receipt."""

from __future__ import annotations

import asyncio

from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from connectors.base import IntakeUnavailable
from gateway.infra.resources import ATTACHMENTS, DIRECTORY, REDIS, SESSIONS
from gateway.infra.stream import STREAM
from gateway.web.audiences import CITIZEN as CITIZEN_AUDIENCE
from gateway.web.audiences import sub_app
from gateway.web.citizen import CITIZEN
from tests.gateway.conftest import eventually
from tests.gateway.web.citizen.helpers import JPEG, TICKET_RE, leave_message_form, open_form, png, submit
from tests.rate_windows import begin_in_a_fresh_window
from ticketing.db.models.tickets import Attachment, Entry, Ticket

PENDING = "已提交，编号稍后可在办件查询中查看"


def stored_files(stack) -> list:
    root = stack.data_dir / "attachments"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def ticket_count(client) -> int:
    async with client.app[SESSIONS]() as session:
        return (await session.execute(select(func.count(Ticket.id)))).scalar()


async def test_a_message_with_images_becomes_a_ticket_and_the_receipt_shows_its_number(client, stack):
    image = png()
    resp = await submit(client, images=[("路灯.png", "image/png", image), ("现场.jpg", "image/jpeg", JPEG)])
    assert resp.status == 303
    location = resp.headers["Location"]
    assert location.startswith("/message/receipt/lm-")

    receipt = await client.get(location)
    assert receipt.status == 200
    assert receipt.headers["Cache-Control"] == "no-store"
    page = await receipt.text()
    number = TICKET_RE.search(page).group(0)
    assert f'id="receipt-ticket-no">{number}<' in page
    assert "建设路路灯不亮" in page and f"/progress?ticket_no={number}" in page

    async with client.app[SESSIONS]() as session:
        ticket = (await session.execute(
            select(Ticket).options(selectinload(Ticket.attachments)))).scalar_one()
        entry = (await session.execute(select(Entry).where(Entry.author == "citizen"))).scalar_one()
    assert ticket.number == number and ticket.channel == "web"
    assert ticket.region == "weidong" and ticket.title == "建设路路灯不亮"
    assert ticket.citizen_name == "李女士" and ticket.citizen_phone == "13837512345"
    assert entry.meta["msg_type"] == "leave_message" and entry.meta["force_ticket"] is True
    assert sorted(a.filename for a in ticket.attachments) == ["现场.jpg", "路灯.png"]
    assert {a.content_type for a in ticket.attachments} == {"image/png", "image/jpeg"}
    assert all(a.kind == "image" for a in ticket.attachments)
    store = client.app[ATTACHMENTS]
    by_name = {a.filename: store.path_of(a.storage_key).read_bytes() for a in ticket.attachments}
    assert by_name["路灯.png"] == image and by_name["现场.jpg"] == JPEG


async def test_without_a_csrf_token_nothing_is_accepted(client, stack):
    _, form_id = await open_form(client)
    missing = await client.post("/message", data=leave_message_form(None, form_id), allow_redirects=False)
    assert missing.status == 403
    assert "页面已过期" in await missing.text()
    forged = await client.post("/message", data=leave_message_form("abc.def", form_id), allow_redirects=False)
    assert forged.status == 403
    client.session.cookie_jar.clear()  # a token without its cookie (another site's form)
    token, form_id = "x" * 20 + ".y", form_id
    assert (await client.post("/message", data=leave_message_form(token, form_id))).status == 403
    await asyncio.sleep(0.2)
    assert await ticket_count(client) == 0


async def test_a_bad_phone_is_shown_next_to_the_field_and_the_input_is_kept_escaped(client):
    title = '<script>alert("x")</script>'
    resp = await submit(client, phone="12345", title=title)
    assert resp.status == 400
    page = await resp.text()
    assert '<p class="field-error" id="phone-error">手机号格式不正确' in page
    assert 'aria-describedby="phone-error"' in page
    assert f'value="{escape(title)}"' in page
    assert "<script>alert" not in page
    assert 'value="李女士"' in page and "卫东区建设路与中兴路交叉口" in page
    assert '<option value="weidong" selected>' in page


async def test_missing_fields_are_all_reported(client):
    resp = await submit(client, name="", phone="", region="", title="", content="")
    assert resp.status == 400
    page = await resp.text()
    for message in ("请填写姓名", "请填写联系电话", "请选择问题发生的区域", "请填写留言标题", "请详细描述您的问题"):
        assert message in page


async def test_more_than_three_images_are_refused_and_nothing_is_stored(client, stack):
    images = [(f"{i}.png", "image/png", png()) for i in range(4)]
    resp = await submit(client, images=images)
    assert resp.status == 400
    assert "最多上传 3 张图片" in await resp.text()
    assert stored_files(stack) == []


async def test_a_file_that_is_not_an_allowed_image_is_refused(client, stack):
    for image in [("a.pdf", "application/pdf", b"%PDF-1.4 hello"),
                  ("evil.jpg", "image/jpeg", b"MZ\x90\x00 this is a program"),
                  ("x.svg", "image/svg+xml", b"<svg onload='alert(1)'/>")]:
        resp = await submit(client, images=[image])
        assert resp.status == 400, image
        assert "图片「" in await resp.text()
    assert stored_files(stack) == []
    assert await ticket_count(client) == 0


async def test_an_image_over_five_megabytes_is_refused(client, stack):
    big = png() + b"\0" * (5 * 1024 * 1024)
    resp = await submit(client, images=[("big.png", "image/png", big)])
    assert resp.status == 400
    assert "超过 5 MB" in await resp.text()
    assert stored_files(stack) == []


async def test_an_upload_over_the_request_limit_gets_a_chinese_page(client):
    huge = b"\0" * (26 * 1024 * 1024)
    resp = await submit(client, images=[("huge.png", "image/png", huge)])
    assert resp.status == 413
    assert "上传内容过大" in await resp.text()


async def test_five_messages_per_ten_minutes_per_client(make_client):
    await begin_in_a_fresh_window(window=600)
    client = await make_client(run_worker=False, HOTLINE_TRUSTED_PROXIES="127.0.0.1")
    sub_app(client.app, CITIZEN_AUDIENCE)[CITIZEN].reply_wait = 0
    statuses = [(await submit(client, content=f"第 {i} 条留言：小区路灯不亮，请维修。")).status for i in range(6)]
    assert statuses == [303] * 5 + [429]
    page = await (await submit(client, content="第七条留言：还是路灯的问题。")).text()
    assert "提交过于频繁" in page
    # Another citizen (a different address behind the city's proxy) is not affected.
    token, form_id = await open_form(client)
    resp = await client.post("/message", data=leave_message_form(token, form_id, content="别的市民：路面塌陷。"),
                             headers={"X-Forwarded-For": "203.0.113.9"}, allow_redirects=False)
    assert resp.status == 303


async def test_the_same_form_submitted_twice_is_one_ticket(client):
    token, form_id = await open_form(client)
    first = await client.post("/message", data=leave_message_form(token, form_id), allow_redirects=False)
    second = await client.post("/message", data=leave_message_form(token, form_id), allow_redirects=False)
    assert first.status == second.status == 303
    assert first.headers["Location"] == second.headers["Location"]
    await asyncio.sleep(0.3)
    assert await ticket_count(client) == 1
    # The same page reused for a different message is a new message, never swallowed.
    third = await client.post("/message", data=leave_message_form(token, form_id, content="另外反映：楼道灯也不亮。"),
                              allow_redirects=False)
    assert third.headers["Location"] != first.headers["Location"]


async def test_when_the_number_is_late_the_receipt_says_submitted_and_shows_the_message_id(make_client):
    client = await make_client(run_worker=False)
    sub_app(client.app, CITIZEN_AUDIENCE)[CITIZEN].reply_wait = 0.2
    resp = await submit(client)
    assert resp.status == 303
    message_id = resp.headers["Location"].rsplit("/", 1)[1]
    page = await (await client.get(resp.headers["Location"])).text()
    assert PENDING in page and message_id in page
    assert 'http-equiv="refresh"' in page  # it checks again by itself
    assert TICKET_RE.search(page) is None

    # The submission is on the stream: a worker started later numbers it.
    stream = client.app[REDIS]
    assert await stream.xlen(client.app[STREAM].key) == 1


async def test_a_receipt_belongs_to_the_browser_that_submitted(client):
    resp = await submit(client)
    location = resp.headers["Location"]
    assert TICKET_RE.search(await (await client.get(location)).text())
    client.session.cookie_jar.clear()
    other = await client.get(location)
    assert other.status == 404
    assert TICKET_RE.search(await other.text()) is None
    assert (await client.get("/message/receipt/lm-nothex")).status == 404


async def test_intake_unavailable_answers_503_in_chinese_and_keeps_the_text(client, stack, monkeypatch):
    async def refuse(msg):
        raise IntakeUnavailable("redis down")

    monkeypatch.setattr(client.app[STREAM], "publish", refuse)
    resp = await submit(client, images=[("a.png", "image/png", png())], title="下水道堵塞")
    assert resp.status == 503
    page = await resp.text()
    assert "系统繁忙，您的留言未能提交" in page and 'value="下水道堵塞"' in page
    assert stored_files(stack) == []  # the image of an unaccepted message is not kept


async def test_the_form_lists_the_regions_of_the_directory(client):
    page = await (await client.get("/message")).text()
    for region in client.app[DIRECTORY].regions:
        assert f'<option value="{region.code}">{region.name}</option>' in page
    assert 'enctype="multipart/form-data"' in page and 'accept="image/jpeg,image/png,image/gif,image/webp"' in page


async def test_attachments_reference_the_ticket(client):
    resp = await submit(client, images=[("a.png", "image/png", png())])
    await client.get(resp.headers["Location"])

    async def rows():
        async with client.app[SESSIONS]() as session:
            return list((await session.execute(select(Attachment))).scalars())

    (att,) = await eventually(rows)
    assert att.ticket_id is not None and att.entry_id is not None
