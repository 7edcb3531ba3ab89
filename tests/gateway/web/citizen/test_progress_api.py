import uuid

from tests.gateway.conftest import eventually
from tests.rate_windows import begin_in_a_fresh_window


async def _ticket_no(client, phone="13837512345"):
    session_id = "s" + uuid.uuid4().hex
    await client.post("/api/v1/web/messages", json={"session_id": session_id, "text": "楼上装修噪音太大",
                                                    "phone": phone})

    async def number():
        msgs = (await (await client.get(f"/api/v1/web/sessions/{session_id}/messages")).json())["messages"]
        return next((m["ticket_no"] for m in msgs if m["author"] == "bot"), None)

    return await eventually(number)


async def test_progress_with_the_right_phone_digits(client):
    number = await _ticket_no(client)
    resp = await client.get(f"/api/v1/tickets/{number}", params={"phone_last4": "2345"})
    assert resp.status == 200
    body = await resp.json()
    assert body["ticket_no"] == number and body["status"] == "pending_review" and body["status_label"] == "待审核"
    assert body["timeline"][0]["status"] == "pending_review"
    assert any(number in r["text"] for r in body["replies"])
    assert "13837512345" not in str(body)  # the progress page never shows the phone


async def test_wrong_phone_and_unknown_number_answer_the_same_404(client):
    number = await _ticket_no(client)
    wrong = await client.get(f"/api/v1/tickets/{number}", params={"phone_last4": "0000"})
    unknown = await client.get("/api/v1/tickets/PDS2099010100001", params={"phone_last4": "2345"})
    assert wrong.status == unknown.status == 404
    assert await wrong.json() == await unknown.json()


async def test_malformed_phone_digits_are_refused(client):
    resp = await client.get("/api/v1/tickets/PDS2026112700001", params={"phone_last4": "12a4"})
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "invalid_phone_last4"


async def test_progress_queries_are_rate_limited_per_client(client):
    await begin_in_a_fresh_window()
    # Different numbers each time: what stops them is the client's budget, not a number's.
    statuses = [
        (await client.get(f"/api/v1/tickets/PDS20990101{n:05d}", params={"phone_last4": "1111"})).status
        for n in range(12)
    ]
    assert statuses[:10] == [404] * 10
    assert statuses[10:] == [429, 429]
