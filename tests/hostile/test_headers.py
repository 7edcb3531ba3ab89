"""Security headers on every response (issue #12, item 13): pages, JSON, static files, and the
redirects and errors that handlers and the router raise; ``Server`` names no version."""

from __future__ import annotations

import pytest

from gateway.web.security import SECURITY_HEADERS

REQUESTS = {
    "page": ("GET", "/", 200),
    "JSON": ("GET", "/api/v1/console/csrf", 200),
    "static file": ("GET", "/static/citizen/citizen.css", 200),
    "raised redirect": ("GET", "/console", 302),
    "unknown page": ("GET", "/no-such-page", 404),
    "unknown API": ("GET", "/api/v1/no-such-thing", 404),
    "method not allowed": ("DELETE", "/progress", 405),
    "CSRF refusal": ("POST", "/console/login", 403),
    "API refusal": ("GET", "/api/v1/console/me", 401),
    "malformed body": ("POST", "/api/v1/web/messages", 415),
}


@pytest.mark.parametrize("name", REQUESTS)
async def test_every_response_carries_the_security_headers(client, name):
    method, path, status = REQUESTS[name]
    resp = await client.request(method, path, allow_redirects=False)
    assert resp.status == status, await resp.text()
    for header, value in SECURITY_HEADERS.items():
        assert resp.headers.get(header) == value, (header, resp.headers.get(header))
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]


async def test_the_server_header_names_no_version(client):
    resp = await client.get("/")
    server = resp.headers.get("Server", "")
    assert "aiohttp" not in server.lower() and "python" not in server.lower(), server
    assert not any(ch.isdigit() for ch in server), server


async def test_error_pages_are_chinese_html(client):
    resp = await client.get("/no-such-page")
    assert resp.status == 404 and resp.content_type == "text/html"
    assert "页面不存在" in await resp.text()
