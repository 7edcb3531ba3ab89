"""Open311 GeoReport v2 through a real gateway and worker, on both backends: discovery, services,
a POST through the intake stream to a ticket (token → service_request_id), the GET filters, JSON
and XML in the spec's shapes, errors in the spec's format, and no personal data in any response."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import quote
from xml.etree import ElementTree

import pytest

from gateway.infra.resources import SESSIONS
from tests.gateway.conftest import eventually
from tests.gateway.web.console.conftest import make_ticket
from ticketing.db.models.base import utcnow
from ticketing.open311 import keys

V2 = "/open311/v2"
# The fields of a service request in the GeoReport v2 examples (GET requests.json).
REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"}
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
PERSONAL = ("13837512345", "3751", "liu@example.com", "刘", "德华", "zhang", "张先生", "13900001111")


@pytest.fixture
async def open311(make_client):
    client = await make_client()
    async with client.app[SESSIONS]() as session, session.begin():
        issued = await keys.issue(session, "pds-city-app", actor="test")
    return client, issued.key


def form(key: str | None, **fields: str) -> dict[str, str]:
    base = {"service_code": "urban_management", "address_string": "卫东区光明路128号门口",
            "description": "光明路人行道井盖丢失，联系我13837512345或liu@example.com", "first_name": "德华",
            "last_name": "刘", "phone": "13837512345", "email": "liu@example.com", "device_id": "dev-1"}
    if key is not None:
        base["api_key"] = key
    base.update(fields)
    return base


async def post(client, key, fmt="json", **fields):
    return await client.post(f"{V2}/requests.{fmt}", data=form(key, **fields))


async def created_number(client, token: str) -> str:
    async def check():
        resp = await client.get(f"{V2}/tokens/{token}.json")
        assert resp.status == 200
        body = await resp.json()
        return body[0]["service_request_id"]

    return await eventually(check, timeout=15)


def assert_no_personal_data(text: str) -> None:
    for value in PERSONAL:
        assert value not in text, value


async def test_discovery_and_services_in_json_and_xml(open311):
    client, _ = open311
    resp = await client.get(f"{V2}/discovery.json")
    assert resp.status == 200
    body = await resp.json()
    assert body["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert body["endpoints"][0]["url"].endswith("/open311/v2")
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(body)
    root = ElementTree.fromstring(await (await client.get(f"{V2}/discovery.xml")).text())
    assert root.tag == "discovery"
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == ["application/json", "text/xml"]

    services = await (await client.get(f"{V2}/services.json")).json()
    codes = {s["service_code"]: s for s in services}
    assert codes["urban_management"]["service_name"] == "市城市管理局"
    assert all(set(s) == SERVICE_FIELDS for s in services)
    assert codes["urban_management"]["metadata"] is False
    resp = await client.get(f"{V2}/services.xml")
    assert resp.content_type == "text/xml"
    root = ElementTree.fromstring(await resp.text())
    assert root.tag == "services" and {child.tag for child in root} == {"service"}
    assert {e.tag for e in root[0]} == SERVICE_FIELDS
    assert root.find("service/metadata").text == "false"


async def test_a_posted_request_becomes_a_ticket_through_the_worker(open311):
    client, key = open311
    resp = await post(client, key)
    assert resp.status == 202, await resp.text()
    [accepted] = await resp.json()
    token = accepted["token"]
    assert set(accepted) == {"token", "service_notice", "account_id"}
    number = await created_number(client, token)

    [request] = await (await client.get(f"{V2}/requests/{number}.json")).json()
    assert set(request) == REQUEST_FIELDS
    assert request["service_request_id"] == number
    assert request["status"] == "open"
    assert request["service_code"] == "urban_management"  # the app's service, not the NLU's guess
    assert request["service_name"] == "市城市管理局"
    assert request["address"] == "卫东区光明路128号门口"
    assert request["description"].startswith("光明路人行道井盖丢失")
    assert request["requested_datetime"].endswith("+08:00")
    assert_no_personal_data(json.dumps(request, ensure_ascii=False))

    # The operators have the whole request and the contact; the public does not.
    async with client.app[SESSIONS]() as session:
        from ticketing.tickets import store
        ticket = await store.ticket_by_number(session, number)
        assert ticket.channel == "open311"
        assert ticket.citizen_phone == "13837512345" and ticket.citizen_name == "刘德华"
        assert ticket.department == "urban_management"

    xml = await (await client.get(f"{V2}/tokens/{token}.xml")).text()
    root = ElementTree.fromstring(xml)
    assert root.tag == "service_requests"
    assert root.find("request/service_request_id").text == number
    assert root.find("request/token").text == token


async def test_post_in_xml_answers_xml(open311):
    client, key = open311
    resp = await post(client, key, fmt="xml", lat="33.7453", long="113.1925", address_string="")
    assert resp.status == 202
    root = ElementTree.fromstring(await resp.text())
    assert root.tag == "service_requests"
    token = root.find("request/token").text
    number = await created_number(client, token)
    root = ElementTree.fromstring(await (await client.get(f"{V2}/requests/{number}.xml")).text())
    assert root.tag == "service_requests"
    assert {e.tag for e in root.find("request")} == REQUEST_FIELDS
    assert float(root.find("request/lat").text) == pytest.approx(33.7453)
    assert_no_personal_data(ElementTree.tostring(root, encoding="unicode"))


async def test_list_filters_and_no_personal_data_of_other_channels(open311):
    client, key = open311
    old = utcnow() - timedelta(days=20)
    await make_ticket(client.app, text="半年前的工单", at=utcnow() - timedelta(days=180))  # outside the default 90 days
    chat = await make_ticket(client.app, channel="wechat", text="我是张先生，电话13900001111，湛河区锦绣花园停水",
                             phone="13900001111", department="utilities", region="zhanhe", at=old)
    resp = await post(client, key)
    number = await created_number(client, (await resp.json())[0]["token"])

    everything = await (await client.get(f"{V2}/requests.json")).json()
    assert {r["service_request_id"] for r in everything} == {chat, number}
    assert_no_personal_data(json.dumps(everything, ensure_ascii=False))
    [from_chat] = [r for r in everything if r["service_request_id"] == chat]
    assert from_chat["description"] == "湛河区的供水、供电、燃气、供热单位（水电气暖）投诉"
    assert from_chat["address"] == "湛河区" and from_chat["lat"] is None

    async def ids(query: str) -> set[str]:
        resp = await client.get(f"{V2}/requests.json?{query}")
        assert resp.status == 200, await resp.text()
        return {r["service_request_id"] for r in await resp.json()}

    assert await ids("service_code=utilities") == {chat}
    assert await ids(f"service_request_id={chat},{number}") == {chat, number}
    assert await ids("start_date=" + quote((utcnow() - timedelta(days=1)).isoformat())) == {number}
    assert await ids("end_date=" + quote((utcnow() - timedelta(days=10)).isoformat())) == {chat}
    assert await ids(f"end_date={(utcnow() - timedelta(days=10)).isoformat()}") == {chat}  # "+" left unencoded
    assert await ids("status=open") == {chat, number}
    assert await ids("status=closed") == set()


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_errors_are_in_the_spec_format(open311, fmt):
    client, key = open311

    async def error(resp, status: int) -> str:
        assert resp.status == status, await resp.text()
        if fmt == "json":
            [item] = await resp.json()
            assert set(item) == {"code", "description"} and item["code"] == status
            return item["description"]
        root = ElementTree.fromstring(await resp.text())
        assert root.tag == "errors" and [child.tag for child in root] == ["error"]
        assert int(root.find("error/code").text) == status
        return root.find("error/description").text

    assert "api_key" in await error(await post(client, None, fmt), 403)
    assert "api_key" in await error(await post(client, "o311_not-a-key", fmt), 403)
    assert "service_code" in await error(await post(client, key, fmt, service_code=""), 400)
    assert "未知" in await error(await post(client, key, fmt, service_code="nope"), 404)
    assert "位置" in await error(await post(client, key, fmt, address_string=""), 400)
    assert await error(await post(client, key, fmt, lat="91", long="113"), 400)
    assert await error(await client.get(f"{V2}/requests/PDS00000000000.{fmt}"), 404)
    assert await error(await client.get(f"{V2}/tokens/{'0' * 32}.{fmt}"), 404)
    assert await error(await client.get(f"{V2}/requests.{fmt}?status=pending"), 400)
    assert await error(await client.get(f"{V2}/requests.{fmt}?start_date=yesterday"), 400)
    assert await error(await client.get(f"{V2}/nothing-here.{fmt}"), 404)
    assert await error(await client.delete(f"{V2}/requests.{fmt}"), 405)
    assert await error(await client.post(f"{V2}/requests.{fmt}", json={"api_key": key}), 400)
    assert await error(await client.post(f"{V2}/requests.{fmt}", data=b"api_key=\xff\xfe",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"}), 400)
    assert await error(await post(client, key, fmt, description="长" * 20_000), 413)


async def test_a_revoked_key_is_refused_and_posts_are_rate_limited(make_client):
    client = await make_client(HOTLINE_OPEN311_POSTS_PER_MINUTE=2)
    async with client.app[SESSIONS]() as session, session.begin():
        issued = await keys.issue(session, "busy-app", actor="test")
        other = await keys.issue(session, "gone-app", actor="test")
        assert await keys.revoke(session, "gone-app", actor="test")
    assert (await post(client, other.key)).status == 403
    statuses = [(await post(client, issued.key)).status for _ in range(3)]
    assert statuses[:2] == [202, 202]
    assert statuses[2] in (202, 429)  # a minute's window may turn between the posts
    if statuses[2] == 202:
        assert (await post(client, issued.key)).status == 429


async def test_keys_are_stored_hashed(open311):
    client, key = open311
    async with client.app[SESSIONS]() as session:
        [row] = await keys.listed(session)
    assert row.key_hash != key and key not in row.key_hash and len(row.key_hash) == 64
