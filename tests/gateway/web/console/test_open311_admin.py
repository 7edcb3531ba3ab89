"""Open311 API keys issued and revoked by an admin through the console's JSON API and its page: the
key is shown once and works on the Open311 POST until revoked, the listing never shows it, a revoked
app can be issued a new key, only admins may do any of it, and every action is in the audit log."""

from __future__ import annotations

import re

from gateway.infra.resources import SESSIONS
from tests.gateway.web.open311.test_api import V2, form
from ticketing.accounts import audit

KEYS = "/api/v1/console/open311-keys"


async def _filed(client, key: str) -> int:
    resp = await client.post(f"{V2}/requests.json", data=form(key))
    return resp.status


async def _audit(app) -> list[tuple[str, str, str]]:
    async with app[SESSIONS]() as session:
        rows = await audit.audit_entries(session)
    return [(r.actor, r.action, r.target) for r in reversed(rows) if r.action.startswith("open311_key")]


async def test_an_admin_issues_and_revokes_a_key_through_the_api(console):
    client, agent, _ = console
    root = await agent("root", role="admin")
    issued = await root.post(KEYS, {"name": "pds-city-app"})
    assert issued.status == 201 and issued.headers["Cache-Control"] == "no-store"
    key = (await issued.json())["key"]
    assert key.startswith("o311_")
    assert await _filed(client, key) in (201, 202)

    listing = await (await root.get(KEYS)).json()
    assert [(k["name"], k["active"], k["created_by"]) for k in listing["keys"]] == [("pds-city-app", True, "root")]
    assert key not in str(listing) and listing["keys"][0]["last_used_at"]

    taken = await root.post(KEYS, {"name": "pds-city-app"})
    assert taken.status == 409 and (await taken.json())["error"]["code"] == "name_taken"
    bad = await root.post(KEYS, {"name": "City App"})
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "invalid_name"

    revoked = await root.request("DELETE", f"{KEYS}/pds-city-app")
    assert revoked.status == 200 and (await revoked.json())["keys"][0]["active"] is False
    assert await _filed(client, key) in (401, 403)
    again = await root.request("DELETE", f"{KEYS}/pds-city-app")
    assert again.status == 404 and (await again.json())["error"]["code"] == "not_found"

    # Revoked, the app may be given a new key (the old one stays refused).
    renewed = await root.post(KEYS, {"name": "pds-city-app"})
    assert renewed.status == 201
    new_key = (await renewed.json())["key"]
    assert new_key != key and await _filed(client, new_key) in (201, 202) and await _filed(client, key) in (401, 403)
    assert await _audit(client.app) == [("root", "open311_key_issued", "pds-city-app"),
                                        ("root", "open311_key_revoked", "pds-city-app"),
                                        ("root", "open311_key_issued", "pds-city-app")]


async def test_only_admins_manage_keys(console):
    _, agent, _ = console
    for role in ("operator", "supervisor", "leader"):
        someone = await agent(f"u-{role}", role=role)
        assert (await someone.get(KEYS)).status == 403, role
        assert (await someone.post(KEYS, {"name": "sneaky-app"})).status == 403, role
        assert (await someone.get("/console/admin/open311-keys")).status == 403, role
    anonymous = await agent()
    assert (await anonymous.get(KEYS)).status == 401


async def test_the_admin_page_shows_a_new_key_once_and_revokes_it(console):
    client, agent, _ = console
    root = await agent("root", role="admin")
    page = await root.get("/console/admin/open311-keys")
    html = await page.text()
    assert page.status == 200 and "尚未签发任何密钥" in html and 'href="/console/admin/open311-keys"' in html
    answer = await root.form("/console/admin/open311-keys", {"name": "ruzhou-app"})
    html = await answer.text()
    assert answer.status == 200 and answer.headers["Cache-Control"] == "no-store"
    key = re.search(r"<code data-key>(o311_[^<]+)</code>", html).group(1)
    assert await _filed(client, key) in (201, 202)
    later = await (await root.get("/console/admin/open311-keys")).text()
    assert key not in later and 'data-app="ruzhou-app"' in later and "有效" in later

    refused = await root.form("/console/admin/open311-keys", {"name": "ruzhou-app"})
    assert refused.status == 303
    assert "已有密钥" in await (await root.get(refused.headers["Location"])).text()
    gone = await root.form("/console/admin/open311-keys/ruzhou-app/revoke")
    assert gone.status == 303 and gone.headers["Location"] == "/console/admin/open311-keys"
    page = await (await root.get("/console/admin/open311-keys")).text()
    assert "已吊销应用 ruzhou-app 的 Open311 接口密钥" in page and "已吊销（" in page
    assert await _filed(client, key) in (401, 403)
    assert [a for _, a, _ in await _audit(client.app)] == ["open311_key_issued", "open311_key_revoked"]
    audit_page = await (await agent("chief", role="supervisor")).get("/console/audit")
    assert "签发 Open311 接口密钥" in await audit_page.text()
