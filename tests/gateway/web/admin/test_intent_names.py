"""Intents named in Chinese (directory departments, FAQ answers, hotlines, emergencies), a search among
the examples, and a new example shown first, right under the form that added it."""

from __future__ import annotations

import pytest

P = "/api/v1/admin/nlu"


@pytest.fixture
def backend() -> str:
    return "embedded"


async def test_intents_carry_chinese_names_and_examples_can_be_searched(console):
    client, agent, _ = console
    admin = await agent("root", role="admin")
    labels = {i["name"]: i["label"] for i in (await (await admin.get(f"{P}/intents")).json())["intents"]}
    assert labels["dept_urban_management"] == "市城市管理局"
    assert labels["faq/service_hours"].startswith("常见问题：平顶山市12345政务服务热线")
    assert labels["emergency_fire"] == "紧急求助：火警（119）" and labels["greet"] == "问候"
    assert labels["hotline_weather"] == "市气象局（12121）"

    page = await (await admin.get("/admin/nlu")).text()
    assert ">市城市管理局</a>" in page
    page = await (await admin.get("/admin/nlu?q=路灯")).text()
    assert "包含“路灯”的例句" in page and "没有找到" not in page
    assert (await (await admin.get("/admin/nlu?q=100%_不存在的词")).text()).count("没有找到包含") == 1

    resp = await admin.post(f"{P}/examples", {"intent": "dept_urban_management", "texts": ["小区门口的井盖丢了好几天"]})
    assert resp.status == 201
    examples = (await (await admin.get(f"{P}/examples?intent=dept_urban_management")).json())["examples"]
    assert examples[-1]["text"] == "小区门口的井盖丢了好几天"
    page = await (await admin.get("/admin/nlu/intent?name=dept_urban_management")).text()
    table = page[page.index('id="examples"'):]
    first = table.index('class="example-text" value="')
    assert table[first:].startswith('class="example-text" value="小区门口的井盖丢了好几天"')
    assert "市城市管理局" in page
