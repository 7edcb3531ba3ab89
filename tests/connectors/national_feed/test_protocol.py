"""Signing, verification, wire models and write-back bodies, without HTTP."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime, timezone

import pytest

from connectors.national_feed.protocol import (
    BEIJING,
    canonical_query,
    feedback_body,
    is_retryable_detail,
    parse_page,
    sign,
    signed_headers,
    string_to_sign,
    verify_request,
)

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
