"""The desk's JSON API over real HTTP: a unit's moves on its ticket, bad input, illegal moves, CSRF,
uploads, the audited phone reveal, and the read-only view of a ticket the unit gave back."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
from sqlalchemy import select

from config.local_time import LOCAL_TZ
from gateway.infra.resources import SESSIONS
from gateway.web.desk import models
from tests.gateway.web.desk.conftest import PHONE, body
from ticketing.accounts.audit import audit_entries
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Attachment

API = "/api/v1/desk"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _tabs(queue: dict) -> dict[str, int]:
    return {t["code"]: t["count"] for t in queue["tabs"]}


async def test_sign_answer_with_a_file_and_the_queue_follows(desk):
    number = await desk.dispatched("health")
    clerk = await desk.agent("wjw1", unit="health")

    queue = await body(await clerk.get(f"{API}/queue"))
    models.DeskQueueResponse.model_validate(queue)  # the documented shape is the served one
    assert queue["tab"] == "pending_sign" and [r["number"] for r in queue["rows"]] == [number]
    row = queue["rows"][0]
    assert row["role"] == "lead" and row["role_label"] == "主办" and not row["redo"] and row["due"] == "ok"
    assert _tabs(queue)["pending_sign"] == 1 and _tabs(queue)["handling"] == 0

    view = (await body(await clerk.get(f"{API}/tickets/{number}")))["ticket"]
    assert view["permissions"]["sign"] and not view["permissions"]["answer"]
    assert view["contact"]["phone"] == "138****2345" and PHONE not in str(view)  # masked, in the words too
    assert view["dispatch"]["note"] == "请核实后答复群众"

    resp = await clerk.post(f"{API}/tickets/{number}/sign")
    assert resp.status == 200
    view = (await body(resp))["ticket"]
    assert view["status"] == "handling" and view["dispatch"]["state"] == "signed"
    assert _tabs(await body(await clerk.get(f"{API}/queue")))["handling"] == 1

    data = aiohttp.FormData(quote_fields=False)
    data.add_field("text", "已派人现场查看，三日内修复。")
    data.add_field("files", PNG, filename="现场照片.png", content_type="image/png")
    resp = await clerk.request("POST", f"{API}/tickets/{number}/progress", data=data)
    assert resp.status == 200, await resp.text()
    data = aiohttp.FormData(quote_fields=False)
    data.add_field("text", "路灯已于今日修复，经回访群众确认可正常照明。")
    data.add_field("files", PNG, filename="修复后.png", content_type="image/png")
    resp = await clerk.request("POST", f"{API}/tickets/{number}/answer", data=data)
    assert resp.status == 200, await resp.text()
    out = await body(resp)
    models.DeskReportCreated.model_validate(out)
    view = out["ticket"]
    assert view["status"] == "answer_review" and out["report_id"]
    answer = next(r for r in view["reports"] if r["kind"] == "answer")
    assert answer["review_state"] == "pending" and answer["attachments"][0]["filename"] == "修复后.png"
    file = await clerk.get(answer["attachments"][0]["url"])
    assert file.status == 200 and await file.read() == PNG

    # The platform sends it back with a reason: the unit sees why, and may answer again.
    await desk.reject(number, "请写明修复时间和责任人")
    view = (await body(await clerk.get(f"{API}/tickets/{number}")))["ticket"]
    assert view["status"] == "handling" and view["review_feedback"][0]["reason"] == "请写明修复时间和责任人"
    assert view["permissions"]["answer"]


async def test_return_with_a_reason_leaves_a_read_only_view(desk):
    number = await desk.dispatched("health")
    clerk = await desk.agent("wjw1", unit="health")
    resp = await clerk.post(f"{API}/tickets/{number}/return", {"reason": "not_our_duty", "text": "路灯归城管局管理"})
    assert resp.status == 200, await resp.text()
    view = (await body(resp))["ticket"]
    assert view["status"] == "returned" and view["read_only"] is True
    assert not any(view["permissions"][k] for k in ("sign", "return", "answer", "progress", "extension", "reveal"))
    assert any(e["action"] == "unit_return" for e in view["timeline"])
    queue = await body(await clerk.get(f"{API}/queue?tab=returned"))
    assert [r["number"] for r in queue["rows"]] == [number] and _tabs(queue)["pending_sign"] == 0
    # Gone from the unit: no more moves (409), no phone.
    resp = await clerk.post(f"{API}/tickets/{number}/sign")
    assert resp.status == 409 and (await body(resp))["error"]["code"] == "not_held"
    assert (await clerk.post(f"{API}/tickets/{number}/reveal")).status == 403


async def test_extension_and_supervision_acknowledgement(desk):
    number = await desk.dispatched("health")
    clerk = await desk.agent("wjw1", unit="health")
    assert (await clerk.post(f"{API}/tickets/{number}/sign")).status == 200
    until = (utcnow() + timedelta(days=40)).astimezone(LOCAL_TZ).date().isoformat()
    resp = await clerk.post(f"{API}/tickets/{number}/extension", {"until": until, "reason": "需协调供电公司更换线路"})
    assert resp.status == 200, await resp.text()
    view = (await body(resp))["ticket"]
    assert view["extension"]["state"] == "pending" and view["extension"]["until_local"] == until
    assert not view["permissions"]["extension"]
    again = await clerk.post(f"{API}/tickets/{number}/extension", {"until": until, "reason": "再次申请"})
    assert again.status == 409

    note_id = await desk.supervise(number, "群众多次来电，请加快办理")
    queue = await body(await clerk.get(f"{API}/queue?tab=handling"))
    assert queue["rows"][0]["unacknowledged"] == 1
    resp = await clerk.post(f"{API}/tickets/{number}/supervision/{note_id}/acknowledge")
    assert resp.status == 200
    note = (await body(resp))["ticket"]["supervision"][0]
    assert note["acknowledged"] and note["acknowledged_by"] == "wjw1"
    assert (await clerk.post(f"{API}/tickets/{number}/supervision/{note_id}/acknowledge")).status == 409
    assert (await body(await clerk.get(f"{API}/queue?tab=handling")))["rows"][0]["unacknowledged"] == 0


async def test_bad_input_is_400_illegal_moves_409_and_csrf_is_required(desk):
    number = await desk.dispatched("health")
    clerk = await desk.agent("wjw1", unit="health")
    t = f"{API}/tickets/{number}"
    # Illegal moves: answering before signing, signing twice.
    assert (await clerk.post(t + "/answer", {"text": "已经处理完毕，请群众放心。"})).status == 409
    assert (await clerk.post(t + "/progress", {"text": "正在处理"})).status == 409
    assert (await clerk.post(t + "/sign")).status == 200
    resp = await clerk.post(t + "/sign")
    assert resp.status == 409 and (await body(resp))["error"]["code"] == "already_signed"
    # Bad input.
    for path, payload, code in [
        ("/return", {"reason": "whatever", "text": "x"}, "invalid_reason"),
        ("/return", {"reason": "not_our_duty", "text": "  "}, "text_required"),
        ("/return", {"text": "缺少原因"}, "invalid_reason"),
        ("/answer", {"text": "已处理"}, "text_required"),
        ("/answer", {"text": 12}, "text_required"),
        ("/extension", {"until": "下周", "reason": "需要时间"}, "invalid_date"),
        ("/extension", {"until": "2020-01-01", "reason": "需要时间"}, "not_later"),
        ("/progress", {"text": "好", "extra": 1}, "unknown_field"),
    ]:
        resp = await clerk.post(t + path, payload)
        assert resp.status == 400, (path, payload, resp.status)
        assert (await body(resp))["error"]["code"] == code, (path, payload)
    assert (await clerk.get(f"{API}/queue?tab=nonsense")).status == 400
    assert (await clerk.get(f"{API}/queue?limit=0")).status == 400
    assert (await clerk.post(t + "/supervision/999999/acknowledge")).status == 404
    # No CSRF token: refused, nothing changes.
    resp = await clerk.post(t + "/progress", {"text": "无令牌的请求"}, csrf=False)
    assert resp.status == 403
    view = (await body(await clerk.get(t)))["ticket"]
    assert view["reports"] == []


async def test_an_oversized_file_is_413_and_a_forged_type_400_and_nothing_is_kept(desk):
    number = await desk.dispatched("health")
    clerk = await desk.agent("wjw1", unit="health")
    assert (await clerk.post(f"{API}/tickets/{number}/sign")).status == 200
    data = aiohttp.FormData(quote_fields=False)
    data.add_field("text", "附件过大")
    data.add_field("files", b"%PDF-" + b"0" * (10 * 1024 * 1024), filename="big.pdf", content_type="application/pdf")
    resp = await clerk.request("POST", f"{API}/tickets/{number}/progress", data=data)
    assert resp.status == 413
    data = aiohttp.FormData(quote_fields=False)
    data.add_field("text", "伪装的图片")
    data.add_field("files", b"MZ\x90\x00 not a png", filename="x.png", content_type="image/png")
    resp = await clerk.request("POST", f"{API}/tickets/{number}/progress", data=data)
    assert resp.status == 400 and (await body(resp))["error"]["code"] == "attachment_rejected"
    async with desk.app[SESSIONS]() as session:
        assert (await session.execute(select(Attachment).where(Attachment.report_id.is_not(None)))).first() is None


async def test_showing_the_phone_is_audited(desk):
    number = await desk.dispatched("health")
    clerk = await desk.agent("wjw1", unit="health")
    resp = await clerk.post(f"{API}/tickets/{number}/reveal")
    assert resp.status == 200 and (await body(resp))["contact"]["phone"] == PHONE
    async with desk.app[SESSIONS]() as session:
        entries = await audit_entries(session, action="reveal_contact", actor="wjw1")
    assert len(entries) == 1 and entries[0].target == number and entries[0].detail["unit"] == "health"


async def test_an_assisting_unit_gives_its_opinion_but_cannot_answer(desk):
    number = await desk.dispatched("health", assists=("ruzhou",))
    helper = await desk.agent("rz1", unit="ruzhou")
    queue = await body(await helper.get(f"{API}/queue"))
    assert queue["rows"][0]["role"] == "assist" and queue["rows"][0]["role_label"] == "协办"
    assert (await helper.post(f"{API}/tickets/{number}/sign")).status == 200
    resp = await helper.post(f"{API}/tickets/{number}/progress", {"text": "汝州方面已配合排查线路"})
    view = (await body(resp))["ticket"]
    assert view["reports"][0]["kind"] == "opinion" and not view["permissions"]["answer"]
    resp = await helper.post(f"{API}/tickets/{number}/answer", {"text": "协办单位不能直接答复群众的诉求"})
    assert resp.status == 403 and (await body(resp))["error"]["code"] == "lead_only"
