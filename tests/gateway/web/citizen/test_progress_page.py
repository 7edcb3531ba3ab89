"""The 办件查询 page: ticket number + last four phone digits → status, timeline, replies."""

from __future__ import annotations

from markupsafe import escape

from gateway.web.citizen.progress_api import NOT_FOUND
from gateway.web.console import actions
from tests.gateway.web.citizen.helpers import TICKET_RE, open_form, submit
from tests.gateway.web.console.conftest import make_ticket
from tests.rate_windows import begin_in_a_fresh_window
from ticketing.accounts.roles import Actor


async def _ticket(client) -> str:
    resp = await submit(client, phone="13837512345")
    page = await (await client.get(resp.headers["Location"])).text()
    return TICKET_RE.search(page).group(0)


async def _query(client, number, last4, *, token=True):
    csrf, _ = await open_form(client, "/progress")
    data = {"ticket_no": number, "phone_last4": last4}
    if token:
        data["csrf_token"] = csrf
    return await client.post("/progress", data=data)


async def test_the_right_digits_show_status_timeline_and_replies(client):
    number = await _ticket(client)
    resp = await _query(client, number.lower(), "2345")  # typed in lower case: still found
    assert resp.status == 200
    page = await resp.text()
    assert f'<span class="ticket-no">{number}</span>' in page
    assert '<strong id="progress-status">待审核</strong>' in page
    assert 'id="progress-timeline"' in page and "待审核" in page
    assert 'id="progress-replies"' in page and f"工单号：{number}" in page
    assert "13837512345" not in page  # the phone is never shown


async def test_wrong_phone_and_unknown_number_look_the_same(client):
    number = await _ticket(client)
    wrong = await _query(client, number, "0000")
    unknown = await _query(client, "PDS2099010100001", "2345")
    assert wrong.status == unknown.status == 404
    for resp in (wrong, unknown):
        page = await resp.text()
        assert NOT_FOUND in page and 'id="progress-result"' not in page


async def test_bad_input_is_explained_next_to_the_field(client):
    resp = await _query(client, "", "12a")
    assert resp.status == 400
    page = await resp.text()
    assert '<p class="field-error" id="ticket_no-error">请填写工单号</p>' in page
    assert '<p class="field-error" id="phone_last4-error">请填写手机号后四位数字</p>' in page


async def test_a_query_without_csrf_is_refused(client):
    resp = await _query(client, "PDS2099010100001", "2345", token=False)
    assert resp.status == 403


async def test_queries_are_rate_limited_like_the_api(client):
    await begin_in_a_fresh_window()
    statuses = [(await _query(client, f"PDS20990101{n:05d}", "1111")).status for n in range(11)]
    assert statuses == [404] * 10 + [429]
    page = await (await _query(client, "PDS2099010100001", "1111")).text()
    assert "查询过于频繁" in page
    # One budget for the page and the JSON API.
    api = await client.get("/api/v1/tickets/PDS2099010100001", params={"phone_last4": "1111"})
    assert api.status == 429


async def test_the_number_from_a_link_is_prefilled_and_escaped(client):
    page = await (await client.get("/progress", params={"ticket_no": 'pds1"><script>x</script>'})).text()
    assert f'value="{escape(chr(80) + "DS1" + chr(34) + "><SCRIPT>X</SCRIPT>")}"' in page
    assert "<SCRIPT>" not in page


async def test_a_merged_duplicate_shows_the_main_tickets_progress_and_answer(client):
    app = client.app
    operator = Actor("li", "李坐席", "operator")
    main = await make_ticket(app, text="建设路路灯不亮", phone="13900001111")
    dup = await make_ticket(app, text="建设路路灯还是不亮", phone="13837512345")
    await actions.merge(app, operator, dup, main)
    await actions.reply(app, operator, main, "路灯已于今日修复，感谢您的反映。", mark_answered=True)
    resp = await _query(client, dup, "2345")
    assert resp.status == 200
    page = await resp.text()
    assert 'id="progress-merged"' in page and f'已与工单 <span class="ticket-no">{main}</span> 合并办理' in page
    assert '<strong id="progress-status">已答复</strong>' in page  # the main ticket's status, not 已合并
    assert "路灯已于今日修复" in page
    assert "13900001111" not in page  # nothing of the other citizen
