"""The API document is generated from the routes and their models: valid OpenAPI 3, every served
API route described, the roles read from the handlers, and a limit documented where it is enforced."""

from __future__ import annotations

import re

import openapi_spec_validator

from gateway.infra.resources import SETTINGS
from gateway.web.audiences import all_routes


async def test_the_document_is_valid_openapi_3_and_describes_every_api_route(console):
    client, agent, _ = console
    a = await agent()
    doc = await (await a.get("/api/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    openapi_spec_validator.validate(doc)
    paths = doc["paths"]
    for path, method in (("/api/v1/console/login", "post"), ("/api/v1/console/tickets", "get"),
                         ("/api/v1/web/messages", "post"), ("/api/v1/tickets/{ticket_no}", "get"),
                         ("/api/v1/console/tickets/{number}/claim", "post"), ("/api/v1/nlu/parse", "post"),
                         ("/api/v1/admin/nlu/train", "post"), ("/api/v1/console/training-suggestions", "get")):
        assert method in paths[path], path
    assert paths["/api/v1/console/tickets/{number}/assign"]["post"]["x-roles"] == ["supervisor"]
    assert paths["/api/v1/console/users"]["post"]["x-roles"] == ["admin"]
    assert paths["/api/v1/admin/dead-letters"]["get"]["security"][0] == {"adminToken": []}
    # every /api/ route the app (and each audience's sub-app) serves is in the document, none undescribed
    served = set()
    for route in all_routes(client.app):
        info = route.resource.canonical if route.resource else ""
        if info.startswith("/api/") and route.method not in ("HEAD",):
            served.add((re.sub(r"\{([^}:]+):[^}]+\}", r"{\1}", info), route.method.lower()))
    documented = {(p, m) for p, ms in paths.items() for m in ms}
    assert served <= documented
    undocumented = [(p, m) for p, ms in paths.items() for m, item in ms.items() if item.get("x-undocumented")]
    assert undocumented == []
    body = paths["/api/v1/console/tickets/{number}/reply"]["post"]["requestBody"]["content"]["application/json"]
    assert doc["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]["properties"]["mark_answered"]


async def test_the_docs_page_is_rendered_on_the_server(console):
    _, agent, _ = console
    page = await (await agent()).get("/api/docs")
    html = await page.text()
    assert page.status == 200 and "/api/v1/console/tickets/{number}/claim" in html and "认领" in html
    assert "<script" not in html and "cdn" not in html.lower()


async def test_the_documented_text_limit_is_the_enforced_one(console):
    client, agent, _ = console
    a = await agent()
    doc = await (await a.get("/api/openapi.json")).json()
    limit = client.app[SETTINGS].max_text_chars
    ref = doc["paths"]["/api/v1/nlu/parse"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    documented = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]["text"]["maxLength"]
    assert documented == limit
    too_long = await a.post("/api/v1/nlu/parse", {"text": "路" * (limit + 1)})
    assert too_long.status == 413 and (await too_long.json())["error"]["code"] == "text_too_long"
    blank = await a.post("/api/v1/nlu/parse", {"text": "   "})
    assert blank.status == 400 and (await blank.json())["error"]["code"] == "empty_text"
    extra = await a.post("/api/v1/nlu/parse", {"text": "路灯坏了", "lang": "zh"})
    assert extra.status == 400 and (await extra.json())["error"]["code"] == "invalid_body"
