"""The operator console: the six network-hotline seats review the bot's hand-offs.

Pages under ``/console/``, the same actions as JSON under ``/api/v1/console/``, the live
queue at ``/console/events`` (SSE).  ``setup_console(app)`` wires it into the gateway; it
must run after the resources ``cleanup_ctx`` is registered (it needs the Redis client).
"""

from __future__ import annotations

from aiohttp import web

from gateway.web.auth import session_middleware, storage_ctx
from gateway.web.console import api, events, views


def setup_console(app: web.Application) -> None:
    app.middlewares.append(session_middleware)
    app.cleanup_ctx.append(storage_ctx)
    app.cleanup_ctx.append(events.assigner_ctx)
    app.router.add_routes(api.routes)
    app.router.add_routes(views.routes)
    app.router.add_get("/console/events", events.console_events)
