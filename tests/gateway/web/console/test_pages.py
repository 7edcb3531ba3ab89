"""The server-rendered pages: what an operator sees and the form round trips."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from gateway.infra.resources import ATTACHMENTS, SESSIONS
from tests.gateway.web.console.conftest import make_ticket
from ticketing.accounts import users
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Attachment, Entry, Ticket
from ticketing.tickets.deadlines import add_workdays


async def _follow(agent, resp):
    assert resp.status == 303, (resp.status, await resp.text())
    return await agent.get(resp.headers["Location"])


async def test_queue_page_lists_hand_offs_with_masked_phones(console):
    client, agent, user = console
    number = await make_ticket(client.app, text="<script>alert(1)</script>路灯坏了", urgent=True)
    op = await agent("li")
    resp = await op.get("/console")
    html = await resp.text()
    assert resp.status == 200
    assert number in html and "138****2345" in html and "13837512345" not in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert 'sse-connect="/console/events"' in html and 'hx-trigger="sse:queue"' in html
    assert resp.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert "onclick" not in html and "<script>" not in html.replace('<script src=', '')
    panel = await op.get("/console/queue/panel?q=" + number)
    assert panel.status == 200 and number in await panel.text()


async def test_queue_counts_the_working_days_left_and_shows_overdue_in_red(console):
    client, agent, user = console
    soon = await make_ticket(client.app, text="汝州市某小区停水")
    late = await make_ticket(client.app, text="新华区噪音扰民")
    async with client.app[SESSIONS]() as session, session.begin():
        for number, deadline in ((soon, add_workdays(utcnow(), 3)), (late, utcnow() - timedelta(days=20))):
            ticket = await session.scalar(select(Ticket).where(Ticket.number == number))
            ticket.deadline = deadline
    op = await agent("li")
    html = await (await op.get("/console?status=open")).text()
    assert "<th>剩余工作日</th>" in html
    rows = dict(re.findall(r'data-number="([^"]+)"(.*?)</tr>', html, flags=re.S))
    assert re.search(r'<td class="workdays" data-workdays="3"[^>]*>剩 3 个工作日</td>', rows[soon])
    assert re.search(r'<td class="workdays overdue" data-workdays="-\d+"[^>]*>超期 \d+ 个工作日</td>', rows[late])
    api = await op.get("/api/v1/console/tickets?status=open")
    listed = {t["number"]: t for t in (await api.json())["tickets"]}
    assert listed[soon]["workdays_left"] == 3 and listed[soon]["workdays_label"] == "剩 3 个工作日"
    assert listed[late]["workdays_left"] < 0


async def test_machine_classification_is_explained_once_not_in_every_row(console):
    client, agent, user = console
    numbers = [await make_ticket(client.app, text=f"卫东区路灯坏了 {n}") for n in range(3)]
    op = await agent("li")
    html = await (await op.get("/console")).text()
    assert all(number in html for number in numbers)
    assert "(机器预分类)" not in html and html.count("机器预分类") == 1 + html.count('title="机器预分类"')
    assert re.search(r'id="queue-legend"[^>]*>.*机器预分类', html)
    assert html.count('class="predicted-mark" title="机器预分类"') >= 3


async def test_ticket_page_shows_prediction_beside_the_confirmed_values(console):
    client, agent, user = console
    number = await make_ticket(client.app, confidence=0.734)
    op = await agent("li")
    html = await (await op.get(f"/console/tickets/{number}")).text()
    assert "机器预测" in html and "73%" in html
    assert re.search(r'data-key="1"[^>]*>1\. 市城市管理局 73%', html)
    assert 'data-code="housing_construction"' in html and 'data-key="3"' in html
    assert "13837512345" not in html and "138****2345" in html
    assert 'id="claim-form"' in html and "确认分类（Enter）" in html


async def test_an_unsure_request_type_is_marked_for_checking_with_the_next_types_one_click_away(console):
    client, agent, user = console
    unsure = await make_ticket(client.app, request_type="complaint", type_ranking=[
        {"code": "complaint", "confidence": 0.46}, {"code": "consult", "confidence": 0.38},
        {"code": "help", "confidence": 0.09}])
    sure = await make_ticket(client.app, request_type="complaint", type_ranking=[
        {"code": "complaint", "confidence": 0.91}, {"code": "report", "confidence": 0.05}])
    older = await make_ticket(client.app, request_type="complaint")  # a prediction stored before the ranking
    op = await agent("li")
    html = await (await op.get(f"/console/tickets/{unsure}")).text()
    row = re.search(r"<th>诉求类型</th>(.*?)</tr>", html, re.S).group(1)
    assert "投诉 <span class=\"conf\">46%</span>" in row and 'id="request-type-unsure"' in row and "请核对" in row
    buttons = re.findall(r'<button type="button" class="alt small" data-field="request_type" data-code="(\w+)">([^<]+)</button>',
                         row)
    assert buttons == [("consult", "咨询 38%"), ("help", "求助 9%")]
    html = await (await op.get(f"/console/tickets/{sure}")).text()
    row = re.search(r"<th>诉求类型</th>(.*?)</tr>", html, re.S).group(1)
    assert "91%" in row and "请核对" not in row and 'data-code="report"' in row
    html = await (await op.get(f"/console/tickets/{older}")).text()
    row = re.search(r"<th>诉求类型</th>(.*?)</tr>", html, re.S).group(1)
    assert "投诉" in row and "请核对" not in row and 'data-field="request_type"' not in row.split("<select")[0]


async def test_image_attachments_show_a_thumbnail_other_files_a_name(console):
    client, agent, user = console
    number = await make_ticket(client.app)
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15"
           b"\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
    store_ = client.app[ATTACHMENTS]
    async with client.app[SESSIONS]() as session, session.begin():
        ticket = (await session.execute(select(Ticket).where(Ticket.number == number))).scalar_one()
        entry = (await session.execute(select(Entry).where(Entry.ticket_id == ticket.id))).scalar_one()
        for data, name, kind in ((png, "路灯.png", "image/png"), (b"%PDF-1.4 x", "说明.pdf", "application/pdf")):
            ref = await store_.save(data, filename=name, content_type=kind, check_type=False)
            session.add(Attachment(ticket_id=ticket.id, entry_id=entry.id, filename=ref.filename,
                                   content_type=ref.content_type, size=ref.size, storage_key=ref.storage_key,
                                   kind="image" if kind.startswith("image/") else "file"))
    op = await agent("li")
    html = await (await op.get(f"/console/tickets/{number}")).text()
    thumbs = re.findall(r'<img class="thumb" src="(/console/attachments/\d+)" alt="([^"]+)"', html)
    assert [alt for _, alt in thumbs] == ["路灯.png"] and "说明.pdf" in html
    image = await op.get(thumbs[0][0])
    assert image.status == 200 and image.headers["Content-Type"] == "image/png"


async def test_claim_classify_reply_through_the_forms(console):
    client, agent, user = console
    sid = "s" + "b" * 31
    number = await make_ticket(client.app, sender=sid)
    op = await agent("li")
    page = await _follow(op, await op.form(f"/console/tickets/{number}/claim"))
    html = await page.text()
    assert "已认领工单" in html and "由我处理" in html and "显示完整联系方式" in html

    page = await _follow(op, await op.form(f"/console/tickets/{number}/classify", {
        "department": "transport", "region": "weidong", "request_type": "complaint"}))
    assert "已更正分类" in await page.text()
    page = await _follow(op, await op.form(f"/console/tickets/{number}/classify", {
        "department": "transport", "region": "weidong", "request_type": "complaint"}))
    assert "已确认分类" in await page.text()

    page = await _follow(op, await op.form(f"/console/tickets/{number}/reply", {"text": "您好，已转交通运输局。"}))
    html = await page.text()
    assert "答复已发送" in html and "您好，已转交通运输局。" in html and "已发送" in html
    msgs = await (await op.get(f"/api/v1/web/sessions/{sid}/messages")).json()
    assert msgs["messages"][-1]["text"] == "您好，已转交通运输局。"

    reveal = await op.form(f"/console/tickets/{number}/reveal")
    assert reveal.status == 200 and "13837512345" in await reveal.text()


async def test_a_refused_action_comes_back_as_a_message(console):
    client, agent, user = console
    number = await make_ticket(client.app)
    li = await agent("li")
    wang = await agent("wang")
    await li.form(f"/console/tickets/{number}/claim")
    page = await _follow(wang, await wang.form(f"/console/tickets/{number}/claim"))
    html = await page.text()
    assert "该工单已由 li 认领" in html and "li 正在处理" in html
    page = await _follow(wang, await wang.form(f"/console/tickets/{number}/answer"))
    assert "正由 li 处理" in await page.text()
    reveal = await wang.form(f"/console/tickets/{number}/reveal")
    assert "只有正在处理该工单的坐席或班长" in await reveal.text()


async def test_intake_page_suggests_and_creates(console):
    client, agent, user = console
    op = await agent("li")
    page = await op.get("/console/intake")
    html = await page.text()
    assert page.status == 200 and 'hx-post="/console/intake/suggest"' in html and 'name="attachments"' in html
    hint = await op.form("/console/intake/suggest", {"text": "汝州市某小区停水三天了"})
    assert hint.status == 200  # NLU is off in tests: the fragment says so
    assert "智能预分类" in await hint.text()
    created = await op.form("/console/intake", {"channel": "phone", "text": "汝州市某小区停水三天了",
                                                "phone": "13700001111", "region": "ruzhou",
                                                "request_type": "help"})
    page = await _follow(op, created)
    html = await page.text()
    assert "已录入工单" in html and "汝州市某小区停水三天了" in html


async def test_canned_replies_page(console):
    client, agent, user = console
    op = await agent("li")
    page = await _follow(op, await op.form("/console/canned", {"title": "问候语", "text": "您好！"}))
    html = await page.text()
    assert "已保存常用语" in html and "问候语" in html and "常见问题答复" in html
    # FAQ answers are titled by their topic, never by the model's response key
    assert "反映诉求的渠道" in html and "channels" not in html


async def test_admin_pages_manage_accounts_and_suggestions(console):
    client, agent, user = console
    admin = await agent("root", role="admin")
    page = await _follow(admin, await admin.form("/console/admin/users", {
        "username": "op7", "display_name": "七号坐席", "role": "operator", "password": "seven-seven-7"}))
    assert "已创建账号 op7" in await page.text()
    page = await _follow(admin, await admin.form("/console/admin/users", {
        "username": "op7", "display_name": "重复", "role": "operator", "password": "seven-seven-7"}))
    assert "已存在" in await page.text()
    page = await admin.get("/console/admin/suggestions")
    assert page.status == 200 and "暂无训练建议" in await page.text()


async def test_shift_toggle_and_off_hours_banner(console, monkeypatch):
    client, agent, user = console
    op = await agent("li")
    page = await _follow(op, await op.form("/console/shift", {"on_shift": "1", "next": "/console"}))
    assert "上班中" in await page.text()
    from ticketing.supervision import shifts
    from ticketing.supervision.shifts import ShiftInfo

    monkeypatch.setattr(shifts, "shift_status", lambda directory, now=None: ShiftInfo(False, "08:00", "18:00", None))
    html = await (await op.get("/console")).text()
    assert "当前为非工作时间" in html and "08:00—18:00" in html
    async with client.app[SESSIONS]() as session:
        assert (await users.user_by_name(session, "li")).on_shift is True


def _browser_intake_form(token: str, fields: dict[str, str]):
    """The intake form as Chromium posts it: multipart, with the file input left empty
    (an ``attachments`` part with filename="" and no bytes)."""
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("csrf_token", token)
    for key, value in fields.items():
        form.add_field(key, value)
    form.add_field("attachments", b"", filename="", content_type="application/octet-stream")
    return form


async def test_intake_form_without_a_file_creates_the_ticket(console):
    client, agent, user = console
    op = await agent("li")
    form = _browser_intake_form(await op.csrf(), {"channel": "letter", "text": "来信：新华区某小区电梯停运一周",
                                                  "name": "赵女士", "region": "xinhua"})
    page = await _follow(op, await op.request("POST", "/console/intake", data=form, csrf=False))
    html = await page.text()
    assert "已录入工单" in html and "来信：新华区某小区电梯停运一周" in html
    api = await op.request("POST", "/api/v1/console/tickets", data=_browser_intake_form(
        await op.csrf(), {"channel": "phone", "text": "来电：湛河区路面塌陷"}))
    assert api.status == 201, await api.text()


async def test_a_refused_intake_keeps_what_was_typed(console):
    client, agent, user = console
    op = await agent("li")
    typed = {"channel": "letter", "text": "来信：<b>卫东区</b>噪音扰民，深夜施工", "name": "钱先生",
             "phone": "12345", "title": "夜间施工", "email": "qian@example.cn",
             "department": "urban_management", "region": "weidong", "request_type": "complaint", "urgent": "1"}
    resp = await op.request("POST", "/console/intake", data=_browser_intake_form(await op.csrf(), typed), csrf=False)
    html = await resp.text()
    assert resp.status == 400, html
    assert 'role="alert"' in html and "电话" in html  # the reason, on the form itself
    assert "来信：&lt;b&gt;卫东区&lt;/b&gt;噪音扰民，深夜施工</textarea>" in html
    for name, value in (("name", "钱先生"), ("phone", "12345"), ("title", "夜间施工"), ("email", "qian@example.cn")):
        assert re.search(rf'name="{name}"[^>]*value="{re.escape(value)}"', html), name
    assert re.search(r'value="letter" checked', html) and not re.search(r'value="phone" checked', html)
    assert re.search(r'<option value="urban_management" selected', html)
    assert re.search(r'<option value="weidong" selected', html)
    assert re.search(r'<option value="complaint" selected', html)
    assert re.search(r'name="urgent" value="1" checked', html)
    async with client.app[SESSIONS]() as session:
        from sqlalchemy import func, select

        from ticketing.db.models.tickets import Ticket
        assert (await session.execute(select(func.count()).select_from(Ticket))).scalar_one() == 0


async def test_the_timeline_reads_in_chinese(console):
    from datetime import datetime

    from config.local_time import LOCAL_TZ
    from gateway.infra.resources import DIRECTORY
    from ticketing.accounts.roles import Actor
    from ticketing.tickets import claims
    from ticketing.workflow import assignments

    client, agent, user = console
    number = await make_ticket(client.app, department="transport")
    await user("li", display_name="李晓梅")
    await user("boss", role="supervisor", display_name="王班长")
    li = await agent("li")
    boss = await agent("boss", role="supervisor")
    await li.form(f"/console/tickets/{number}/claim")
    await li.form(f"/console/tickets/{number}/classify", {
        "department": "urban_management", "region": "weidong", "request_type": "complaint", "urgent": "1"})
    await boss.form(f"/console/tickets/{number}/assign", {"username": "boss"})
    async with client.app[SESSIONS]() as session, session.begin():
        ticket = await claims.lock_ticket(session, await claims.get_ticket(session, number))
        await assignments.dispatch(session, ticket, Actor("boss", "王班长", "supervisor"), client.app[DIRECTORY],
                                   target="urban_management")

    events = (await (await boss.get(f"/api/v1/console/tickets/{number}")).json())["ticket"]["events"]
    shown = {(e["action"], e["field"]): e for e in events}
    assert shown[("created", "status")]["actor_name"] == "智能客服"
    assert shown[("claim", "assignee")]["actor_name"] == "李晓梅"
    assert shown[("claim", "assignee")]["to_label"] == "李晓梅"
    assert (shown[("assign", "assignee")]["from_label"], shown[("assign", "assignee")]["to_label"]) == ("李晓梅", "王班长")
    department = shown[("classify", "department")]
    assert (department["from_label"], department["to_label"]) == ("市交通运输局", "市城市管理局")
    state = shown[("classify", "classification")]
    assert (state["field_label"], state["from_label"], state["to_label"]) == ("分类状态", "机器预分类", "人工已确认")
    assert shown[("forward", None)]["to_label"] == "市城市管理局"
    deadline = shown[("update", "deadline")]["to_label"]
    assert re.fullmatch(r"\d{1,2}月\d{1,2}日 \d\d:\d\d", deadline), deadline
    for e in events:
        at = datetime.fromisoformat(e["at"]).astimezone(LOCAL_TZ)
        assert e["at_local"] == f"{at.month}月{at.day}日 {at:%H:%M}"

    html = await (await boss.get(f"/console/tickets/{number}")).text()
    timeline = html[html.index('class="events"'):]
    timeline = timeline[:timeline.index("</details>")]
    assert "智能客服 · 创建工单" in timeline and "李晓梅 · 认领" in timeline
    assert "承办部门：市交通运输局 → 市城市管理局" in timeline and "分类状态：机器预分类 → 人工已确认" in timeline
    assert "交办：— → 市城市管理局" in timeline and "紧急：一般 → 紧急" in timeline
    visible = re.sub(r"<[^>]+>", " ", timeline)
    for raw in ("predicted", "confirmed", "urban_management", "transport", "bot", "citizen", "+08:00", "+00:00",
                " li ", " boss "):
        assert raw not in visible, raw
