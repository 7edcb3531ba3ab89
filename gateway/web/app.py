"""The web gateway: the root app's middlewares and public routes, and one sub-app per audience.

``setup_web`` adds them to an app that already holds the shared resources
(:func:`gateway.infra.resources.add_resources`); :mod:`gateway.runtime.assembly` builds that.
The root keeps what every response needs (security headers, JSON errors), the operations routes
(``/healthz``, ``/metrics``), the NLU contract, the API document, the static files and the
channels' routes; the citizens, the console and the admins each get a sub-app
(:mod:`gateway.web.audiences`).
"""

from __future__ import annotations

from aiohttp import web

from gateway.channels.wiring import add_channel_routes
from gateway.infra.resources import SETTINGS
from gateway.web import audiences, health, nlu_parse
from gateway.web.admin import create_admin_app
from gateway.web.channel_docs import CHANNEL_OPERATIONS
from gateway.web.citizen import create_citizen_app
from gateway.web.console import create_console_app
from gateway.web.desk import create_desk_app
from gateway.web.errors import json_errors
from gateway.web.open311 import create_open311_app
from gateway.web.openapi import setup_openapi
from gateway.web.security import SECRET, resolve_secret_key, setup_security
from gateway.web.templating import setup_templates

# Up to three 5 MB images of a 网民留言 plus the form; every JSON API reads less (json_io).
MAX_REQUEST_BYTES = 25 * 1024 * 1024


def setup_web(app: web.Application) -> None:
    setup_security(app)  # headers on every response, even raised ones; the CSRF cookie
    app.middlewares.append(json_errors)
    app[SECRET] = resolve_secret_key(app[SETTINGS])
    add_channel_routes(app)  # /wechat, the web chat API: the channels' own handlers
    for module in (health, nlu_parse):
        app.router.add_routes(module.routes)
    setup_templates(app)
    audiences.mount(app, audiences.CITIZEN, create_citizen_app())
    audiences.mount(app, audiences.CONSOLE, create_console_app(app))
    audiences.mount(app, audiences.ADMIN, create_admin_app(app))
    audiences.mount(app, audiences.DESK, create_desk_app(app))
    audiences.mount(app, audiences.OPEN311, create_open311_app())
    setup_openapi(app, CHANNEL_OPERATIONS)
