"""The gateway's real routes, for checking the proxy configurations against them."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

from aiohttp import web

from config.settings import load_settings
from gateway.runtime.assembly import create_app

# What an SSE handler calls: gateway.infra.sse.relay, directly or through the channels' live_events.
SSE_CALLS = ("relay(", "live_events(")


def gateway_app(data_dir: Path) -> web.Application:
    settings = load_settings(HOTLINE_DATA_DIR=str(data_dir), DATABASE_URL=None, REDIS_URL=None, RASA_URL=None)
    return create_app(settings, redis_url="redis://127.0.0.1:1/0")  # built, never started


def routes(app: web.Application) -> Iterator[tuple[str, str, object]]:
    """(method, path template, handler) of every route, the audiences' sub-apps included."""
    for resource in app.router.resources():
        sub = getattr(resource, "_app", None)
        if sub is not None:
            yield from routes(sub)
            continue
        for route in resource:
            yield route.method, resource.canonical, route.handler


def sse_paths(app: web.Application) -> set[str]:
    return {path for method, path, handler in routes(app)
            if method == "GET" and any(call in inspect.getsource(handler) for call in SSE_CALLS)}
