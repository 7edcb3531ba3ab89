"""The web gateway: root middlewares, the public routes and each audience's pages and API.

``setup_web`` adds them to an app that already holds the shared resources
(:func:`gateway.infra.resources.add_resources`); :mod:`gateway.runtime.assembly` builds that.
"""

from __future__ import annotations

import logging

from aiohttp import web

from gateway.channels.wiring import add_channel_routes
from gateway.infra.resources import SETTINGS
from gateway.web import health, nlu_parse
from gateway.web.admin import operations, setup_nlu_admin
from gateway.web.citizen import progress_api, setup_citizen
from gateway.web.console import setup_console
from gateway.web.errors import json_errors
from gateway.web.openapi import setup_openapi
from gateway.web.security import SECRET, resolve_secret_key, security_headers
from gateway.web.templating import setup_templates

log = logging.getLogger(__name__)

# Up to three 5 MB images of a 网民留言 plus the form; every JSON API reads less (json_io).
MAX_REQUEST_BYTES = 25 * 1024 * 1024


def setup_web(app: web.Application) -> None:
    app.middlewares.extend([security_headers, json_errors])
    app[SECRET] = resolve_secret_key(app[SETTINGS])
    add_channel_routes(app)  # /wechat, the web chat API: the channels' own handlers
    for module in (progress_api, health, operations, nlu_parse):
        app.router.add_routes(module.routes)
    setup_console(app)
    setup_nlu_admin(app)
    setup_openapi(app)
    setup_templates(app)
    setup_citizen(app)
