from gateway.infra.resources import KEYS, REDIS
from gateway.infra.stream import STREAM
from tests.gateway.conftest import eventually

AUTH = {"Authorization": "Bearer test-admin-token-0123456789"}


async def test_dead_letters_are_listed_and_replayed_through_the_admin_api(client):
    app = client.app

    await app[STREAM].ensure_group()
    await app[REDIS].xadd(app[KEYS].intake, {"msg": b"garbage"})

    async def listed():
        resp = await client.get("/api/v1/admin/dead-letters", headers=AUTH)
        return (await resp.json())["dead_letters"]

    letters = await eventually(listed)
    assert letters[0]["message"] == "garbage" and "undecodable" in letters[0]["error"]
    resp = await client.post(f"/api/v1/admin/dead-letters/{letters[0]['id']}/replay", headers=AUTH)
    assert resp.status == 202
    missing = await client.post("/api/v1/admin/dead-letters/1-1/replay", headers=AUTH)
    assert missing.status == 404


async def test_admin_api_needs_the_token(client):
    assert (await client.get("/api/v1/admin/dead-letters")).status == 401
    bad = await client.get("/api/v1/admin/dead-letters", headers={"Authorization": "Bearer wrong"})
    assert bad.status == 401
    assert (await bad.json())["error"]["code"] == "unauthorized"


async def test_admin_api_is_closed_without_a_configured_token(make_client):
    client = await make_client(HOTLINE_ADMIN_TOKEN=None)
    resp = await client.get("/api/v1/admin/dead-letters", headers=AUTH)
    assert resp.status == 403
