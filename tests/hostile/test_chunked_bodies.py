"""Valid JSON that arrives in pieces is read whole (issue #12, item 11).

``request.content.read(n)`` returned what had arrived so far, so a 9 KB body split across TCP
segments, or sent chunked, was cut short and refused as invalid JSON (400); a body over the
limit must be 413.  A real TCP client sends the bytes here, pausing between the pieces.
"""

from __future__ import annotations

import asyncio
import json

import pytest

SESSION = "chunked-session-0001"
TEXT = "卫东区建设路的路灯已经坏了两个星期，晚上非常黑，请尽快安排维修。" * 95  # >9 KB of UTF-8


def _pieces(body: bytes, count: int) -> list[bytes]:
    size = -(-len(body) // count)
    return [body[i:i + size] for i in range(0, len(body), size)]


async def _exchange(client, head: str, pieces: list[bytes], pause: float = 0.05) -> tuple[int, dict]:
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(head.encode("latin-1"))
        for piece in pieces:
            await writer.drain()
            await asyncio.sleep(pause)
            writer.write(piece)
        await writer.drain()
        status_line = await reader.readline()
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers["content-length"]))
    finally:
        writer.close()
    return int(status_line.split()[1]), json.loads(body)


def _segmented(path: str, body: bytes) -> str:
    return (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")


def _chunked_head(path: str) -> str:
    return (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")


def _chunks(body: bytes, count: int) -> list[bytes]:
    return [b"%x\r\n%s\r\n" % (len(piece), piece) for piece in _pieces(body, count)] + [b"0\r\n\r\n"]


def _message(text: str = TEXT, client_id: str = "chunked-0001") -> bytes:
    return json.dumps({"session_id": SESSION, "text": text, "client_message_id": client_id},
                      ensure_ascii=False).encode()


@pytest.mark.parametrize("framing", ["segments", "chunked"])
async def test_a_9kb_web_message_in_pieces_is_accepted(client, framing):
    body = _message()
    assert len(body) > 9000
    path = "/api/v1/web/messages"
    if framing == "segments":
        status, answer = await _exchange(client, _segmented(path, body), _pieces(body, 6))
    else:
        status, answer = await _exchange(client, _chunked_head(path), _chunks(body, 6))
    assert status == 202, answer
    assert answer["message_id"] == f"{SESSION}:chunked-0001"


@pytest.mark.parametrize("framing", ["segments", "chunked"])
async def test_the_gateway_json_reader_reads_pieces_whole(client, framing):
    body = json.dumps({"text": TEXT}, ensure_ascii=False).encode()
    path = "/api/v1/nlu/parse"
    if framing == "segments":
        status, answer = await _exchange(client, _segmented(path, body), _pieces(body, 5))
    else:
        status, answer = await _exchange(client, _chunked_head(path), _chunks(body, 5))
    assert status == 200, answer
    assert "handoff" in answer


@pytest.mark.parametrize("path", ["/api/v1/web/messages", "/api/v1/nlu/parse"])
async def test_a_chunked_body_over_the_limit_is_413_not_400(client, path):
    body = json.dumps({"session_id": SESSION, "text": "长" * 30_000}, ensure_ascii=False).encode()
    assert len(body) > 64 * 1024
    status, answer = await _exchange(client, _chunked_head(path), _chunks(body, 10), pause=0.01)
    assert status == 413, answer
    assert answer["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("path", ["/api/v1/web/messages", "/api/v1/nlu/parse"])
async def test_a_declared_length_over_the_limit_is_413(client, path):
    body = b"{" + b" " * (70 * 1024) + b"}"
    status, answer = await _exchange(client, _segmented(path, body), _pieces(body, 2))
    assert status == 413, answer
