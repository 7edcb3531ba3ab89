"""Console input parsing (``gateway.web.console.forms``): one parser for the pages and the API, so
a bad value means the same on both (the API answers 400, the page says why and shows the default)."""

from __future__ import annotations

import pytest

from gateway.web.console import forms
from gateway.web.errors import ApiError


def test_days_are_an_integer_clamped_to_a_year():
    assert forms.stats_days({}) == 30
    assert forms.stats_days({"days": "7"}) == 7
    assert forms.stats_days({"days": "0"}) == 1 and forms.stats_days({"days": "9999"}) == 366
    with pytest.raises(ApiError) as refused:
        forms.stats_days({"days": "abc"})
    assert (refused.value.status, refused.value.code) == (400, "invalid_days")


async def test_a_bad_days_is_refused_by_the_api_and_explained_on_the_page(console):
    _, agent, _ = console
    boss = await agent("boss", role="supervisor")
    resp = await boss.get("/api/v1/console/stats?days=abc")
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_days"
    page = await boss.get("/console/supervisor?days=abc")
    html = await page.text()
    assert page.status == 200
    assert "days 必须是 1–366 的整数" in html  # the same message as the API's, not a silent default
    assert "<option value=\"30\" selected>" in html  # with the default period
