"""Open311 GeoReport v2 for third-party city apps: ``/open311/v2/`` (:mod:`api`).

Its own audience (:mod:`gateway.web.audiences`): no session, no CSRF (an app authenticates a POST
with its API key), and errors in the spec's format — ``[{"code": 404, "description": "…"}]`` or
``<errors><error>…</error></errors>`` after the path's ``.json``/``.xml`` — for every refusal,
unknown paths and methods included, instead of the gateway's ``{"error": …}``.
"""

from __future__ import annotations

import logging

from aiohttp import web

from connectors.open311 import Open311InputError
from gateway.web.open311 import api, texts
from gateway.web.open311.formats import render_error

log = logging.getLogger(__name__)


def _format_of(request: web.Request) -> str:
    return "xml" if request.path.endswith(".xml") else "json"


@web.middleware
async def open311_errors(request: web.Request, handler):
    try:
        return await handler(request)
    except Open311InputError as exc:
        return render_error(_format_of(request), exc.status, exc.description)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = texts.NOT_FOUND if exc.status == 404 else (exc.reason or texts.NOT_FOUND)
        return render_error(_format_of(request), exc.status, message)
    except Exception:
        log.exception("open311 request %s %s failed", request.method, request.path)
        return render_error(_format_of(request), 500, texts.SERVER_ERROR)


def create_open311_app() -> web.Application:
    app = web.Application(middlewares=[open311_errors])
    app.router.add_routes(api.routes)
    return app
