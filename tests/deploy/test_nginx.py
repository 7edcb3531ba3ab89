"""deploy/nginx/nginx.conf in a real nginx (Debian's) in front of a real aiohttp server: server-sent
events pass unbuffered, the body limit is the gateway's, and X-Forwarded-For set by the proxy is
what the gateway's own client_address() believes, never what the client wrote."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from config.settings import load_settings
from gateway.infra.ratelimit import client_address
from gateway.infra.resources import SETTINGS
from gateway.web.app import MAX_REQUEST_BYTES
from tests.deploy.routes import gateway_app, routes, sse_paths

CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "nginx.conf"
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
# The test client's own address: not the proxy's (127.0.0.1), so the two can be told apart.
CLIENT_ADDRESS = "127.0.0.2"
RELEASE = web.AppKey("release", asyncio.Event)
PLAIN_READ_TIMEOUT = 2


def conf_text() -> str:
    return CONF.read_text(encoding="utf-8")


def sse_location() -> re.Pattern:
    found = re.findall(r"location ~ (\S+) \{(.*?)\}", conf_text(), re.S)
    (pattern, body), = [(p, b) for p, b in found if "proxy_buffering off" in b]
    assert "proxy_read_timeout 1h" in body
    return re.compile(pattern)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_body_limit_is_the_gateway_s():
    size, unit = re.search(r"client_max_body_size (\d+)([km]?);", conf_text()).groups()
    assert int(size) * {"": 1, "k": 1024, "m": 1024 ** 2}[unit] == MAX_REQUEST_BYTES


def test_every_live_stream_of_the_gateway_and_nothing_else_is_unbuffered(tmp_path):
    app = gateway_app(tmp_path)
    live = sse_paths(app)
    assert {"/console/events", "/desk/events", "/api/v1/web/sessions/{session_id}/events"} <= live
    pattern = sse_location()
    for _, path, _ in routes(app):
        concrete = re.sub(r"\{[^}]+\}", "s-0123", path)
        assert bool(pattern.match(concrete)) == (path in live), path


# --- a real nginx -------------------------------------------------------------------------

async def whoami(request: web.Request) -> web.Response:
    return web.json_response({"client": client_address(request)})


async def body_size(request: web.Request) -> web.Response:
    return web.json_response({"bytes": len(await request.read())})


async def held_stream(request: web.Request) -> web.StreamResponse:
    """One small event, then nothing until the test says so: a buffering proxy holds the event.
    No X-Accel-Buffering header (the gateway's own sends one): the proxy's configuration alone."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b"data: first\n\n")
    await request.app[RELEASE].wait()
    with contextlib.suppress(ConnectionResetError):  # the proxy may have given up on it
        await response.write(b"data: last\n\n")
        await response.write_eof()
    return response


@pytest.fixture
async def upstream():
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[SETTINGS] = load_settings(HOTLINE_TRUSTED_PROXIES="127.0.0.1/32")
    app[RELEASE] = asyncio.Event()
    app.router.add_get("/whoami", whoami)
    app.router.add_post("/api/v1/web/messages", body_size)
    app.router.add_get("/console/events", held_stream)
    app.router.add_get("/console/held", held_stream)  # the same handler on a path nginx buffers
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield app, port
    app[RELEASE].set()
    await runner.cleanup()


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


@pytest.fixture
def proxy(upstream, tmp_path):
    if NGINX is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx)")
    _, upstream_port = upstream
    port = free_port()
    text = conf_text()
    text = _replace_once(text, "listen 8080;", f"listen 127.0.0.1:{port};")
    text = _replace_once(text, "set $gateway http://web:8080;", f"set $gateway http://127.0.0.1:{upstream_port};")
    text = _replace_once(text, "proxy_read_timeout 60s;", f"proxy_read_timeout {PLAIN_READ_TIMEOUT}s;")
    for name in ("pid /tmp/nginx.pid", "/tmp/nginx-client-body", "/tmp/nginx-proxy"):
        text = _replace_once(text, name, name.replace("/tmp/", f"{tmp_path}/"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    # As root, nginx's workers would drop to nobody, who cannot enter pytest's private tmp dirs.
    globals_ = "daemon off;" + (" user root root;" if os.geteuid() == 0 else "")
    command = [NGINX, "-p", str(tmp_path), "-c", str(conf), "-g", globals_, "-e", str(tmp_path / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, process.stderr and process.stderr.read()
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


def the_client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(CLIENT_ADDRESS, 0)))


async def test_the_shipped_file_passes_nginx_s_own_check():
    if NGINX is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx)")
    checked = subprocess.run([NGINX, "-t", "-c", str(CONF), "-e", "/dev/stderr"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


async def test_the_gateway_believes_the_proxy_not_the_client(proxy, upstream):
    _, upstream_port = upstream
    forged = {"X-Forwarded-For": "6.6.6.6"}
    async with the_client() as http:
        async with http.get(f"{proxy}/whoami", headers=forged) as through_proxy:
            assert (await through_proxy.json())["client"] == CLIENT_ADDRESS
        # Straight to a replica (which compose never allows): the peer, whatever the header says.
        async with http.get(f"http://127.0.0.1:{upstream_port}/whoami", headers=forged) as direct:
            assert (await direct.json())["client"] == CLIENT_ADDRESS


async def test_bodies_up_to_the_gateway_s_limit_pass_and_bigger_ones_stop_at_the_proxy(proxy):
    two_megabytes = b"x" * (2 * 1024 * 1024)  # twice nginx's default limit
    async with the_client() as http:
        async with http.post(f"{proxy}/api/v1/web/messages", data=two_megabytes) as accepted:
            assert accepted.status == 200 and (await accepted.json())["bytes"] == len(two_megabytes)
    host, port = proxy.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"POST /api/v1/web/messages HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_REQUEST_BYTES + 1}\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n".encode())
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert status.split()[1] == b"413"


async def test_live_streams_pass_at_once_and_outlive_the_ordinary_read_timeout(proxy, upstream):
    """The ordinary read timeout is cut to 2 s in this copy (PLAIN_READ_TIMEOUT): an idle ordinary
    response is cut then, a live stream (1 h) is not."""
    app, _ = upstream
    async with the_client() as http:
        async with http.get(f"{proxy}/console/events") as live, http.get(f"{proxy}/console/held") as held:
            assert await asyncio.wait_for(live.content.readuntil(b"\n\n"), 5) == b"data: first\n\n"
            assert await asyncio.wait_for(held.content.readuntil(b"\n\n"), 5) == b"data: first\n\n"
            await asyncio.sleep(PLAIN_READ_TIMEOUT + 1.5)
            app[RELEASE].set()
            assert await asyncio.wait_for(live.content.read(), 5) == b"data: last\n\n"
            with pytest.raises(aiohttp.ClientPayloadError):
                await asyncio.wait_for(held.content.read(), 5)  # nginx gave up on it mid-stream
