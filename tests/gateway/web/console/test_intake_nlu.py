"""Manual intake pre-classified by the real NLU as the operator types."""

import re

import pytest

from gateway.infra.resources import DIRECTORY

pytestmark = pytest.mark.rasa


@pytest.fixture
def console_settings(rasa_url):
    return {"RASA_URL": rasa_url, "HOTLINE_NLU_ENABLED": True}


async def test_the_suggestion_shows_department_region_and_an_emergency(console):
    client, agent, _user = console
    op = await agent("zhou")
    resp = await op.form("/console/intake/suggest", {"text": "群众来电：叶县昆阳镇有个饭店后厨老鼠乱跑，卫生太差了"})
    assert resp.status == 200
    html = await resp.text()
    department = re.search(r'data-department="([a-z_]*)"', html).group(1)
    assert department in client.app[DIRECTORY].department_codes
    assert 'data-region="yexian"' in html and "候选：" in html
    # The request type with the classifier's confidence (and 请核对 with the next types when it is unsure).
    typed = re.search(r"类型 (\S+?)（(\d+)%(，<span class=\"warn\">请核对</span>，或 (\S+))?）", html)
    assert typed and typed.group(1) in {"投诉", "举报", "咨询", "求助", "建议", "表扬"}
    assert (int(typed.group(2)) < 60) == bool(typed.group(3))

    resp = await op.form("/console/intake/suggest", {"text": "来电说家里老人突然晕倒了，叫不醒"})
    html = await resp.text()
    assert "疑似紧急情况" in html and re.search(r"拨打 120", html)

    resp = await op.form("/console/intake/suggest", {"text": "路灯"})  # too short to classify yet
    assert "输入内容后显示智能预分类" in await resp.text()
