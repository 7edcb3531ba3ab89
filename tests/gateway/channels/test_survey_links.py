"""How the 一事一评 link reaches the citizen: the text, the absolute link, the public URL setting."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from config.settings import SettingsError, load_settings
from gateway.channels.survey_links import by_link, survey_link, survey_message
from gateway.infra.resources import SECRET, SETTINGS
from ticketing.db.models.workflow import Survey
from ticketing.workflow import surveys

KEY = b"0123456789abcdef0123456789abcdef"


def test_the_message_carries_the_answer_then_the_link_and_its_lifetime():
    text = survey_message("  经核实，路灯已修复。\n", "https://12345.pds.gov.cn/survey/7.abc", valid_days=15)
    assert text == ("经核实，路灯已修复。\n\n请您对本次办理进行评价（一事一评）："
                    "https://12345.pds.gov.cn/survey/7.abc  链接15天内有效")


def test_the_link_is_the_public_url_and_the_signed_token():
    survey = Survey(id=42, created_at=datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc))
    config = {SETTINGS: load_settings(HOTLINE_PUBLIC_URL="https://12345.pds.gov.cn"), SECRET: KEY}
    assert survey_link(config, survey) == "https://12345.pds.gov.cn/survey/" + surveys.token_for(KEY, survey)
    assert load_settings().public_url == "http://127.0.0.1:8080"


@pytest.mark.parametrize("bad", ["12345.pds.gov.cn", "ftp://x.cn", "https://x.cn/", "https://x.cn/?a=1", "https://"])
def test_a_bad_public_url_stops_start_up_naming_the_variable(bad):
    with pytest.raises(SettingsError, match="HOTLINE_PUBLIC_URL"):
        load_settings(HOTLINE_PUBLIC_URL=bad)


def test_phone_and_letter_citizens_get_a_call_instead_of_a_link():
    assert by_link("wechat") and by_link("email") and by_link("web") and by_link("national_platform")
    assert not by_link("phone") and not by_link("letter")
