"""The item → message mapping, without HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from connectors.base import InboundMessage
from connectors.national_feed.inbound import DIVISION_CODES, item_to_message
from connectors.national_feed.protocol import BEIJING, BadItem

from .conftest import make_item


def test_all_fields_are_mapped(directory):
    msg = item_to_message(make_item(1), directory)
    assert msg.channel == "national_platform"
    assert msg.native_id == "GJ20240506000001"
    assert msg.sender_id == "U00000001"
    assert msg.text.startswith("第1号诉求")
    assert msg.subject == "测试事项1"
    assert msg.contact.name == "王女士" and msg.contact.phone == "13903750000"
    # 09:30 Beijing time is 01:30 UTC
    assert msg.received_at == datetime(2024, 5, 6, 1, 30, tzinfo=timezone.utc)
    assert msg.received_at.utcoffset() == timedelta(0)
    assert msg.metadata["platform_item_id"] == "GJ20240506000001"
    assert msg.metadata["region_hint"] == "xinhua"
    assert msg.metadata["request_type_hint"] == "complaint"
    assert msg.metadata["title"] == "测试事项1"
    # the platform's deadline is kept (same instant, in UTC)
    assert datetime.fromisoformat(msg.metadata["deadline"]) == datetime(2024, 5, 21, 23, 59, 59, tzinfo=BEIJING)
    # survives the trip through the intake stream
    assert InboundMessage.from_json(msg.to_json()) == msg


def test_times(directory):
    def mapped(**kw):
        return item_to_message(make_item(1, **kw), directory)

    utc_0130 = datetime(2024, 5, 6, 1, 30, tzinfo=timezone.utc)
    assert mapped(submitted_at="2024-05-06T09:30:00+08:00").received_at == utc_0130
    assert mapped(submitted_at="2024-05-06T01:30:00Z").received_at == utc_0130
    assert mapped(submitted_at=1714959000).received_at == utc_0130
    assert mapped(submitted_at="2024/05/06 00:10:00").received_at == datetime(2024, 5, 5, 16, 10, tzinfo=timezone.utc)
    # a bare date as 办理时限 is the end of that day in Beijing
    assert mapped(deadline="2024-05-21").metadata["deadline"] == "2024-05-21T15:59:59+00:00"
    assert mapped(deadline=None).metadata["deadline"] is None
    # unreadable values degrade, with the raw value kept for operators
    before = datetime.now(timezone.utc)
    odd = mapped(submitted_at="上周五", deadline="尽快")
    assert odd.received_at >= before - timedelta(seconds=1)
    assert odd.metadata["submitted_at_raw"] == "上周五"
    assert odd.metadata["deadline"] is None and odd.metadata["deadline_raw"] == "尽快"


@pytest.mark.parametrize(("code", "region"), sorted(DIVISION_CODES.items()))
def test_region_by_division_code(directory, code, region):
    item = make_item(1, division_code=code, division_name=None)
    assert item_to_message(item, directory).metadata["region_hint"] == region


def test_all_ten_codes_are_the_directory_regions(directory):
    assert set(DIVISION_CODES.values()) == directory.region_codes - {"gaoxin", "shifanqu"}


@pytest.mark.parametrize(
    ("code", "name", "region"),
    [
        ("410402001000", None, "xinhua"),  # a town code starts with its district's
        (None, "高新区", "gaoxin"),
        ("410400", "平顶山高新技术产业开发区", "gaoxin"),
        (None, "城乡一体化示范区", "shifanqu"),
        (None, "平顶山市城乡一体化示范区", "shifanqu"),
        ("", "新城区", "shifanqu"),
        (None, "郟县", "jiaxian"),
        (None, "平顶山市汝州市", "ruzhou"),
        ("410403", "新华区", "weidong"),  # the code is authoritative
        ("410400", "平顶山市", None),
        ("110101", "东城区", None),
        (None, None, None),
    ],
)
def test_region_by_name_and_edge_cases(directory, code, name, region):
    item = make_item(1, division_code=code, division_name=name)
    assert item_to_message(item, directory).metadata["region_hint"] == region


@pytest.mark.parametrize(
    ("value", "code"),
    [("咨询", "consult"), ("投诉", "complaint"), ("举报", "report"), ("求助", "help"), ("建议", "suggestion"),
     ("表扬", "praise"), ("意见建议", "suggestion"), ("感谢", "praise"), ("投诉类", "complaint"),
     ("complaint", "complaint"), ("其他", None), (None, None)],
)
def test_request_type(directory, value, code):
    assert item_to_message(make_item(1, type=value), directory).metadata["request_type_hint"] == code


def test_sender_falls_back_to_phone_then_item(directory):
    assert item_to_message(make_item(1, citizen_id=None), directory).sender_id == "13903750000"
    anon = item_to_message(make_item(1, citizen_id=None, phone=None, citizen_name=None), directory)
    assert anon.sender_id == "item:GJ20240506000001"
    assert anon.contact.name is None and anon.contact.phone is None


def test_numeric_id_is_a_string(directory):
    assert item_to_message(make_item(1, id=12345), directory).native_id == "12345"


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (make_item(1, id=None), "missing id"),
        (make_item(1, id="  "), "missing id"),
        (make_item(1, content=None), "missing content"),
        (make_item(1, content=" \n "), "missing content"),
        (make_item(1, content=["list"]), "missing content"),
        (make_item(1, id="x" * 200), "short printable"),
        ("not an object", "not a JSON object"),
    ],
)
def test_bad_items(directory, item, reason):
    with pytest.raises(BadItem) as err:
        item_to_message(item, directory)
    assert reason in err.value.reason
