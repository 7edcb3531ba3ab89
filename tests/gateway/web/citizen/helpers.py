"""Shared helpers of the citizen page tests: forms, tokens and tiny real images."""

from __future__ import annotations

import re
import struct
import zlib

import aiohttp

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM_ID_RE = re.compile(r'name="form_id" value="([^"]+)"')
TICKET_RE = re.compile(r"PDS\d{13,}")


def png(width: int = 2, height: int = 2) -> bytes:
    """A real (tiny, grey) PNG, built by hand so the tests need no imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\0" * 200


def fields(**overrides) -> dict[str, str]:
    values = {"name": "李女士", "phone": "13837512345", "region": "weidong", "title": "建设路路灯不亮",
              "content": "卫东区建设路与中兴路交叉口的路灯坏了两周，晚上很黑，请尽快维修。"}
    values.update(overrides)
    return values


async def open_form(client, path: str = "/message") -> tuple[str, str | None]:
    """GET a form page: (csrf token, form id).  The CSRF cookie lands in the client's jar."""
    resp = await client.get(path)
    assert resp.status == 200
    html = await resp.text()
    form_id = FORM_ID_RE.search(html)
    return CSRF_RE.search(html).group(1), form_id.group(1) if form_id else None


def leave_message_form(token: str | None, form_id: str | None, images=(), **overrides) -> aiohttp.FormData:
    # Browsers send file names as raw UTF-8, not percent-encoded as aiohttp does by default.
    data = aiohttp.FormData(quote_fields=False)
    if token is not None:
        data.add_field("csrf_token", token)
    if form_id is not None:
        data.add_field("form_id", form_id)
    for key, value in fields(**overrides).items():
        data.add_field(key, value)
    for filename, content_type, content in images:
        data.add_field("images", content, filename=filename, content_type=content_type)
    if not images:
        # What a browser sends for an untouched file input.
        data.add_field("images", b"", filename="", content_type="application/octet-stream")
    return data


async def submit(client, images=(), **overrides):
    token, form_id = await open_form(client)
    return await client.post("/message", data=leave_message_form(token, form_id, images, **overrides),
                             allow_redirects=False)
