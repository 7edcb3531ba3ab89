"""The JSON body reader: the same answers on its fast paths (orjson, a body already buffered) as on
its slow ones (the stdlib, a body arriving in pieces)."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors.http_body import MAX_DEPTH, BodyRefused, parse_json, read_json


@pytest.mark.parametrize("raw", [
    b'{"session_id": "abc", "text": "\\u8def\\u706f \xe5\x9d\x8f\xe4\xba\x86", "n": 1, "f": 1.5, "b": true}',
    b'[1, [2, [3, {"a": null}]]]',
    b'"\\ud83d\\ude00"',  # a surrogate pair is one character, not a lone surrogate
    b"1e999",  # orjson refuses infinity; the stdlib's answer stands
    b"123456789012345678901234567890",  # beyond 64 bits: the same
    b'{"a": 1, "a": 2}',
    b"  {}  ",
])
def test_accepted_bodies_parse_as_the_stdlib_parses_them(raw):
    assert parse_json(raw) == json.loads(raw.decode())


@pytest.mark.parametrize(("raw", "code"), [
    (b'"\\ud800"', "invalid_characters"),
    (b'{"text": "a\\udc00b"}', "invalid_characters"),
    (b'\xff{}', "invalid_json"),
    (b"{", "invalid_json"),
    (b"", "invalid_json"),
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "invalid_json"),
    (b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1), "invalid_json"),
])
def test_refused_bodies_get_the_same_codes(raw, code):
    with pytest.raises(BodyRefused) as refused:
        parse_json(raw)
    assert refused.value.status == 400 and refused.value.code == code


def test_nesting_up_to_the_limit_is_accepted():
    raw = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert parse_json(raw) == json.loads(raw)


async def _echo_server(max_bytes: int) -> TestServer:
    async def handler(request: web.Request) -> web.Response:
        try:
            value = await read_json(request, max_bytes=max_bytes)
        except BodyRefused as exc:
            return web.json_response({"code": exc.code}, status=exc.status)
        return web.json_response({"value": value})

    app = web.Application()
    app.router.add_post("/", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


async def _post_in_pieces(port: int, pieces: list[bytes], headers: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{headers}\r\n".encode())
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.05)  # separate segments: the server sees the body arrive in parts
        status = int((await reader.readline()).split()[1])
        await reader.readuntil(b"\r\n\r\n")
        return status, await reader.read(1000)
    finally:
        writer.close()


async def test_a_body_in_one_piece_and_one_in_several_read_alike():
    server = await _echo_server(max_bytes=1000)
    body = json.dumps({"text": "路灯坏了" * 20}).encode()
    try:
        whole = await _post_in_pieces(server.port, [body], f"Content-Length: {len(body)}\r\n")
        split = await _post_in_pieces(server.port, [body[:7], body[7:50], body[50:]],
                                      f"Content-Length: {len(body)}\r\n")
        chunked = await _post_in_pieces(
            server.port, [b"%x\r\n%s\r\n" % (len(body[:30]), body[:30]),
                          b"%x\r\n%s\r\n0\r\n\r\n" % (len(body[30:]), body[30:])],
            "Transfer-Encoding: chunked\r\n")
    finally:
        await server.close()
    assert whole[0] == split[0] == chunked[0] == 200
    assert json.loads(whole[1]) == json.loads(split[1]) == json.loads(chunked[1]) == {"value": json.loads(body)}


async def test_too_long_is_413_whether_announced_buffered_or_streamed():
    server = await _echo_server(max_bytes=100)
    body = json.dumps({"text": "x" * 200}).encode()
    try:
        announced = await _post_in_pieces(server.port, [body], f"Content-Length: {len(body)}\r\n")
        chunked_whole = await _post_in_pieces(
            server.port, [b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)], "Transfer-Encoding: chunked\r\n")
        chunked_parts = await _post_in_pieces(
            server.port, [b"%x\r\n%s\r\n" % (len(body[:60]), body[:60]),
                          b"%x\r\n%s\r\n0\r\n\r\n" % (len(body[60:]), body[60:])],
            "Transfer-Encoding: chunked\r\n")
    finally:
        await server.close()
    for status, reply in (announced, chunked_whole, chunked_parts):
        assert status == 413 and json.loads(reply) == {"code": "payload_too_large"}
