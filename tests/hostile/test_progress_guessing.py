"""Guessing a ticket's phone digits (issue #12, item 7).

The probe found a ticket's last four digits in 301 guesses (6.6 s) by giving every guess a new
``X-Forwarded-For``.  Replayed here through the JSON API and the page, with and without a forged
header, and with a proxy that is trusted and forwards whatever the attacker claims (as many
addresses as a botnet has): the digits are never found.
"""

from __future__ import annotations

import itertools
import uuid

import pytest

from tests.gateway.conftest import eventually
from tests.gateway.web.citizen.helpers import open_form

PHONE = "13837510300"  # the 301st guess, counting from 0000
_addresses = (f"198.51.100.{i % 250}" if i < 250 else f"198.51.{101 + i // 250}.{i % 250}"
              for i in itertools.count(1))


async def _ticket_no(client, phone: str = PHONE) -> str:
    session_id = "s" + uuid.uuid4().hex
    resp = await client.post("/api/v1/web/messages", json={"session_id": session_id, "text": "楼上装修噪音太大",
                                                           "phone": phone})
    assert resp.status == 202

    async def number():
        msgs = (await (await client.get(f"/api/v1/web/sessions/{session_id}/messages")).json())["messages"]
        return next((m["ticket_no"] for m in msgs if m["author"] == "bot" and m["ticket_no"]), None)

    return await eventually(number)


async def _api_guess(client, number: str, last4: str, forge: bool) -> int:
    headers = {"X-Forwarded-For": next(_addresses)} if forge else {}
    resp = await client.get(f"/api/v1/tickets/{number}", params={"phone_last4": last4}, headers=headers)
    return resp.status


async def _page_guess(client, number: str, last4: str, forge: bool) -> int:
    headers = {"X-Forwarded-For": next(_addresses)} if forge else {}
    token, _ = await open_form(client, "/progress")
    resp = await client.post("/progress", data={"csrf_token": token, "ticket_no": number, "phone_last4": last4},
                             headers=headers)
    page = await resp.text()
    assert resp.status != 200 or 'id="progress-result"' in page
    return resp.status


@pytest.mark.parametrize("path", ["api", "page"])
@pytest.mark.parametrize("proxy", [None, "127.0.0.1"], ids=["no-proxy", "trusted-proxy"])
@pytest.mark.parametrize("forge", [False, True], ids=["plain", "forged-xff"])
async def test_301_guesses_do_not_find_the_digits(make_client, path, proxy, forge):
    overrides = {"HOTLINE_TRUSTED_PROXIES": proxy} if proxy else {}
    client = await make_client(**overrides)
    number = await _ticket_no(client)
    guess = _api_guess if path == "api" else _page_guess
    statuses = [await guess(client, number, f"{n:04d}", forge) for n in range(301)]
    assert 200 not in statuses
    assert statuses[-1] in (403, 429)
    if proxy and forge:
        # Every guess from a "new" client: the ticket's own guard stops it after five failures.
        assert statuses[:5] == [404] * 5 and statuses[5] == 403


async def test_after_five_failures_only_the_whole_phone_opens_the_ticket(make_client):
    client = await make_client(HOTLINE_TRUSTED_PROXIES="127.0.0.1")
    number = await _ticket_no(client)
    wrong = [await _api_guess(client, number, f"{n:04d}", True) for n in range(5)]
    assert wrong == [404] * 5
    # The right four digits no longer suffice, from anyone (the answer says why, for the citizen) …
    resp = await client.get(f"/api/v1/tickets/{number}", params={"phone_last4": "0300"},
                            headers={"X-Forwarded-For": "203.0.113.50"})
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "full_phone_required"
    # … an unknown number says the same once it was guessed at as often (no enumeration) …
    for n in range(5):
        await _api_guess(client, "PDS2099010100001", f"{n:04d}", True)
    unknown = await client.get("/api/v1/tickets/PDS2099010100001", params={"phone_last4": "0300"},
                               headers={"X-Forwarded-For": "203.0.113.51"})
    assert unknown.status == 403 and await unknown.json() == await resp.json()
    # … and the citizen, who knows the whole number, still gets in, through the API and the page.
    ok = await client.get(f"/api/v1/tickets/{number}", params={"phone": "138-3751-0300"},
                          headers={"X-Forwarded-For": "203.0.113.52"})
    assert ok.status == 200 and (await ok.json())["ticket_no"] == number
    token, _ = await open_form(client, "/progress")
    form = await client.post("/progress", data={"csrf_token": token, "ticket_no": number, "phone_last4": "0300"},
                             headers={"X-Forwarded-For": "203.0.113.53"})
    assert form.status == 403 and 'id="phone"' in await form.text()
    token, _ = await open_form(client, "/progress")
    page = await client.post("/progress", data={"csrf_token": token, "ticket_no": number, "phone": PHONE},
                             headers={"X-Forwarded-For": "203.0.113.54"})
    assert page.status == 200 and 'id="progress-result"' in await page.text()
