"""Signing, verification and the item → message mapping, without HTTP."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime, timedelta, timezone

import pytest

from connectors.base import InboundMessage
from connectors.national_feed.protocol import (
    BEIJING,
    DIVISION_CODES,
    BadItem,
    canonical_query,
    feedback_body,
    is_retryable_detail,
    item_to_message,
    parse_page,
    sign,
    signed_headers,
    string_to_sign,
    verify_request,
)

from .conftest import make_item

SECRET = "example-secret-0123456789"


def test_worked_example_of_the_document():
    # docs/national-feed.md, "Worked example": the value printed there.
    q = canonical_query({"limit": 50, "cursor": "120"})
    assert q == "cursor=120&limit=50"
    sts = string_to_sign("GET", "/api/v1/items", q, "1714959000", "3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e", b"")
    assert sts == ("GET\n/api/v1/items\ncursor=120&limit=50\n1714959000\n3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e\n"
                   + hashlib.sha256(b"").hexdigest())
    expected = hmac.new(SECRET.encode(), sts.encode(), hashlib.sha256).hexdigest()
    assert expected == "32d6d2a4a2898077c64aa772e2b62080cabe3132426bb3ded8dc2e9af50b7f50"
    assert sign(SECRET, "GET", "/api/v1/items", q, "1714959000", "3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e", b"") == expected


def test_canonical_query_sorts_and_encodes():
    assert canonical_query(None) == ""
    assert canonical_query({"cursor": None, "limit": 5}) == "limit=5"
    assert canonical_query([("b", "2"), ("a", "z"), ("a", "y")]) == "a=y&a=z&b=2"
    assert canonical_query({"q": "新华 区/~"}) == "q=%E6%96%B0%E5%8D%8E%20%E5%8C%BA%2F~"


def _headers(body=b"", *, secret=SECRET, ts=None, path="/api/v1/items", query="limit=5"):
    return signed_headers("app", secret, "POST", path, query, body, timestamp=ts)


def _verify(headers, body=b"", *, path="/api/v1/items", query=(("limit", "5"),), seen=None):
    return verify_request(app_key="app", app_secret=SECRET, method="POST", path=path, query=query,
                          headers=headers, body=body, nonce_seen=seen)


def test_verify_accepts_a_good_request_once():
    nonces: set[str] = set()

    def seen(n):
        if n in nonces:
            return True
        nonces.add(n)
        return False

    h = _headers(b'{"a":1}')
    assert _verify(h, b'{"a":1}', seen=seen) is None
    assert _verify(h, b'{"a":1}', seen=seen).code == "NONCE_REUSED"


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda h: h.pop("X-Signature"), "MISSING_AUTH"),
        (lambda h: h.update({"X-App-Key": "other"}), "INVALID_APP_KEY"),
        (lambda h: h.update({"X-Signature": "0" * 64}), "INVALID_SIGNATURE"),
        (lambda h: h.update({"X-Nonce": "short"}), "INVALID_SIGNATURE"),
        (lambda h: h.update({"X-Timestamp": "abc"}), "TIMESTAMP_EXPIRED"),
    ],
)
def test_verify_refuses(mutate, code):
    h = _headers()
    mutate(h)
    assert _verify(h).code == code


def test_verify_refuses_changed_body_path_query_and_stale_time():
    h = _headers(b"original")
    assert _verify(h, b"tampered").code == "INVALID_SIGNATURE"
    assert _verify(_headers(), path="/api/v1/items/x/feedback").code == "INVALID_SIGNATURE"
    assert _verify(_headers(), query=(("limit", "6"),)).code == "INVALID_SIGNATURE"
    assert _verify(_headers(secret="another-secret-0123456")).code == "INVALID_SIGNATURE"
    assert _verify(_headers(ts=int(time.time()) - 301)).code == "TIMESTAMP_EXPIRED"
    assert _verify(_headers(ts=int(time.time()) + 301)).code == "TIMESTAMP_EXPIRED"
    assert _verify(_headers(ts=int(time.time()) - 290)) is None


def test_parse_page_shapes():
    page = parse_page({"items": [{"id": 1}], "next_cursor": 7, "has_more": True})
    assert page.next_cursor == "7" and page.has_more and len(page.items) == 1
    for bad in ([], {"items": {}}, {"items": [], "has_more": "yes"}, {"items": [], "next_cursor": [1]}):
        with pytest.raises(Exception):
            parse_page(bad)


def test_feedback_body_and_retryable_details():
    at = datetime(2024, 5, 7, 2, 0, tzinfo=timezone.utc)
    body = feedback_body("GJ1", "answered", "已修复。", at, "平顶山市12345政务服务便民热线")
    assert body["handled_at"] == "2024-05-07T10:00:00+08:00"
    assert body["feedback_id"] == feedback_body("GJ1", "answered", "已修复。", at.astimezone(BEIJING), "x")["feedback_id"]
    assert body["feedback_id"] != feedback_body("GJ1", "closed", "已修复。", at, "x")["feedback_id"]
    for status, text in (("done", "x"), ("answered", " "), ("closed", "x" * 5001)):
        with pytest.raises(ValueError):
            feedback_body("GJ1", status, text, at, "u")
    with pytest.raises(ValueError):
        feedback_body("GJ1", "answered", "x", at.replace(tzinfo=None), "u")
    assert is_retryable_detail("HTTP 500 INTERNAL_ERROR: x (after 3 tries)")
    assert is_retryable_detail("HTTP 429 RATE_LIMITED: x")
    assert is_retryable_detail("NETWORK: connection refused")
    assert not is_retryable_detail("HTTP 404 ITEM_NOT_FOUND: x")
    assert not is_retryable_detail("INVALID: reply text is empty")


# ---- mapping -------------------------------------------------------------------------------

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
