"""The handling desk (办理台): a department's or a county remote seat's handlers sign, handle,
answer or return the tickets dispatched to their unit.

Pages under ``/desk/``, the same actions as JSON under ``/api/v1/desk/``, live updates at
``/desk/events`` (SSE).  One sub-app (:mod:`gateway.web.audiences`) with the console session
(the same login); every handler is scoped to one unit and sees only that unit's tickets.
"""

from __future__ import annotations

from aiohttp import web

from gateway.web.auth import use_sessions
from gateway.web.desk import api, events, pages


def create_desk_app(root: web.Application) -> web.Application:
    app = web.Application()
    use_sessions(app, root)
    for module in (api, pages, events):
        app.router.add_routes(module.routes)
    return app
